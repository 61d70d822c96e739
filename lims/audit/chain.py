"""The SHA-256 hash chain over audit rows (pure functions, no I/O).

Each row's hash covers its own content and the previous row's hash, so
changing, inserting or removing any row breaks every link after it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Mapping

from .models import GENESIS_HASH

HASHED_FIELDS = (
    "id", "ts", "user_id", "user_name", "action", "entity", "record_id",
    "record_version", "field", "old_value", "new_value", "reason", "client",
)


def _canon(value):
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc) if value.tzinfo else value
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return value


def entry_hash(prev_hash: str, row: Mapping) -> str:
    payload = json.dumps([_canon(row.get(k)) for k in HASHED_FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + "\n" + payload).encode("utf-8")).hexdigest()


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_at: int | None = None
    problem: str | None = None


def verify(rows: Iterable[Mapping], head_seq: int | None = None, head_hash: str | None = None) -> VerifyResult:
    """Walk rows in id order; report the first broken link."""
    prev_hash, expected_id, n = GENESIS_HASH, 1, 0
    for row in rows:
        n += 1
        if row["id"] != expected_id:
            return VerifyResult(False, n, row["id"], f"sequence gap: expected row {expected_id}, found {row['id']}")
        if row["prev_hash"] != prev_hash:
            return VerifyResult(False, n, row["id"], "previous-hash link does not match the row before")
        if entry_hash(prev_hash, row) != row["hash"]:
            return VerifyResult(False, n, row["id"], "content does not match its hash (row altered)")
        prev_hash, expected_id = row["hash"], expected_id + 1
    if head_seq is not None and (head_seq != expected_id - 1 or head_hash != prev_hash):
        return VerifyResult(False, n, expected_id, f"chain head says {head_seq} rows but {expected_id - 1} were found (rows removed)")
    return VerifyResult(True, n)
