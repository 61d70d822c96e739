"""The audit chain's HMAC key: 32 random bytes in a file outside the database, never printed.

Whoever can write to the database but cannot read this file cannot forge a row, re-hash an altered one or
write a checkpoint that audit-verify accepts. The file is created (mode 0600) only while the chain is empty
(``lims init``, or the first audit row of a new database); once rows exist a missing key is an error, never
silently replaced.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import current_app

KEY_BYTES = 32


class AuditKeyMissing(RuntimeError):
    pass


def key_path(app=None) -> Path:
    return Path((app or current_app).config["AUDIT_KEY_FILE"])


def ensure_key(app=None) -> bool:
    """Create the key file if it does not exist; True when it was created now."""
    path = key_path(app)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return False
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(KEY_BYTES) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return True


def audit_key(app=None, *, create: bool = False) -> bytes:
    """The key's bytes (cached per app). ``create``: make the file first if missing (only for an empty chain)."""
    app = app or current_app
    path = key_path(app)
    cache = app.extensions.setdefault("lims_audit_key", {})
    if str(path) in cache:
        return cache[str(path)]
    if create:
        ensure_key(app)
    if not path.exists():
        raise AuditKeyMissing(
            f"audit key file {path} is missing (LIMS_AUDIT_KEY_FILE); restore it from the "
            "installation's key backup - the audit trail cannot be written or verified without it"
        )
    raw = path.read_text().strip()
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise AuditKeyMissing(f"audit key file {path} is not a hex key") from None
    if len(key) < 16:
        raise AuditKeyMissing(f"audit key file {path} holds fewer than 16 bytes")
    cache[str(path)] = key
    return key
