"""Audit chain head checkpoints, kept outside the database.

A checkpoint is one JSON line ``{seq, hash, time, reason, kind, mac}`` appended to
``<LIMS_AUDIT_CHECKPOINT_DIR>/audit-checkpoints.jsonl``; ``mac`` is an HMAC under the audit key, so a line
written by someone without the key is reported, not trusted. They are written by ``lims backup`` (also next to
the backup file), by the daily ``audit_checkpoint`` job and by ``lims audit-checkpoint``, which prints the line
for the paper log. ``audit-verify`` checks every checkpoint's row: rows cut off the end of the trail, or a head
rolled back below a checkpoint, fail at the checkpoint's row.

A restore writes a ``restore`` line (the restored backup's head): checkpoints written before it that lie beyond
the restored head describe the trail that the restore deliberately replaced, and are no longer compared.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import current_app

FILE_NAME = "audit-checkpoints.jsonl"
KINDS = ("checkpoint", "restore")


@dataclass
class Checkpoint:
    seq: int
    hash: str
    time: str
    reason: str
    kind: str = "checkpoint"
    mac: str = ""
    valid: bool = True  # the mac verified under the key (set when read)
    line: int = 0  # line number in the file (set when read)

    def record(self) -> dict:
        d = asdict(self)
        d.pop("valid")
        d.pop("line")
        return d


def _mac(key: bytes, seq: int, hash_: str, time: str, reason: str, kind: str) -> str:
    msg = json.dumps(
        ["lims-audit-checkpoint", seq, hash_, time, reason, kind], ensure_ascii=False, separators=(",", ":")
    )
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).hexdigest()


def store_path(app=None) -> Path:
    return Path((app or current_app).config["AUDIT_CHECKPOINT_DIR"]) / FILE_NAME


def make(key: bytes, seq: int, hash_: str, reason: str, *, kind: str = "checkpoint", now=None) -> Checkpoint:
    from ..clock import utcnow

    assert kind in KINDS
    when = (now or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Checkpoint(seq, hash_, when, reason, kind, _mac(key, seq, hash_, when, reason, kind))


def _append(path: Path, cp: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(json.dumps(cp.record(), ensure_ascii=False, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write(
    key: bytes, seq: int, hash_: str, reason: str, *, kind: str = "checkpoint", also_to: Path | None = None, app=None
) -> Checkpoint:
    """Append a checkpoint to the store (and, for a backup, to the file ``also_to``)."""
    cp = make(key, seq, hash_, reason, kind=kind)
    _append(store_path(app), cp)
    if also_to is not None:
        _append(also_to, cp)
    return cp


def read(path: Path, key: bytes) -> list[Checkpoint]:
    """Every line of a checkpoint file; lines that do not parse or whose mac fails come back ``valid=False``."""
    if not path.exists():
        return []
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            cp = Checkpoint(
                int(d["seq"]),
                str(d["hash"]),
                str(d["time"]),
                str(d["reason"]),
                str(d.get("kind", "checkpoint")),
                str(d.get("mac", "")),
                line=n,
            )
            cp.valid = cp.kind in KINDS and hmac.compare_digest(
                _mac(key, cp.seq, cp.hash, cp.time, cp.reason, cp.kind), cp.mac
            )
        except (ValueError, KeyError, TypeError):
            cp = Checkpoint(-1, "", "", "unreadable line", "checkpoint", "", valid=False, line=n)
        out.append(cp)
    return out


def read_store(key: bytes, app=None) -> list[Checkpoint]:
    return read(store_path(app), key)


def printable(cp: Checkpoint) -> str:
    """One line for the paper log: time, sequence, head hash and the start of the mac."""
    return f"LIMS audit checkpoint {cp.time} seq={cp.seq} head={cp.hash} mac={cp.mac[:16]} ({cp.kind}: {cp.reason})"
