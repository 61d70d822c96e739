"""The keyed hash chain over audit rows (pure functions, no I/O).

Each row's hash is an HMAC-SHA256, under the installation's audit key (kept outside the database,
``lims.audit.keys``), of the previous row's hash and the row's own content. Changing, inserting or
removing any row breaks every link after it, and without the key nobody can compute a hash that
verifies: a row forged or re-hashed with plain SHA-256 is reported at that row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .models import GENESIS_HASH

HASHED_FIELDS = (
    "id",
    "ts",
    "user_id",
    "user_name",
    "action",
    "entity",
    "record_id",
    "record_version",
    "field",
    "old_value",
    "new_value",
    "reason",
    "client",
    "signature",
)


def _canon(value):
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return value


def payload(row: Mapping) -> str:
    """The canonical text of a row's hashed content."""
    return json.dumps([_canon(row.get(k)) for k in HASHED_FIELDS], ensure_ascii=False, separators=(",", ":"))


def entry_hash(key: bytes, prev_hash: str, row: Mapping) -> str:
    """HMAC-SHA256(key, prev_hash + newline + canonical payload), hex."""
    if not key:
        raise ValueError("the audit chain needs its key")
    return hmac.new(key, (prev_hash + "\n" + payload(row)).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_at: int | None = None
    problem: str | None = None


def verify(
    rows: Iterable[Mapping], key: bytes, head_seq: int | None = None, head_hash: str | None = None
) -> VerifyResult:
    """Walk rows in id order; report the first broken link."""
    prev_hash, expected_id, n = GENESIS_HASH, 1, 0
    for row in rows:
        n += 1
        if row["id"] != expected_id:
            return VerifyResult(False, n, row["id"], f"sequence gap: expected row {expected_id}, found {row['id']}")
        if row["prev_hash"] != prev_hash:
            return VerifyResult(False, n, row["id"], "previous-hash link does not match the row before")
        if not hmac.compare_digest(entry_hash(key, prev_hash, row), row["hash"]):
            return VerifyResult(False, n, row["id"], "content does not match its keyed hash (row altered or forged)")
        prev_hash, expected_id = row["hash"], expected_id + 1
    last = expected_id - 1
    if head_seq is not None and head_seq > last:
        return VerifyResult(
            False,
            n,
            last + 1,
            f"missing: the chain head says {head_seq} rows but the trail ends at row "
            f"{last} (rows removed from the end)",
        )
    if head_seq is not None and head_seq < last:
        return VerifyResult(
            False,
            n,
            head_seq + 1,
            f"lies beyond the chain head, which says {head_seq} rows "
            f"(head rolled back); the trail goes on to row {last}",
        )
    if head_seq is not None and head_hash != prev_hash:
        return VerifyResult(False, n, last, "does not match the chain head's hash (head altered)")
    return VerifyResult(True, n)
