"""The automatic audit trail, fed by SQLAlchemy session events.

Nobody writes audit rows by hand in a view: operations change records, and
the flush writes one row per changed field, with the actor and the reason
that the operation put on the session. An update or delete of a GMP record
without a reason is refused before anything reaches the database.
"""

from __future__ import annotations

import enum
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session as OrmSession

from ..clock import utcnow
from ..errors import ReasonRequired
from .chain import entry_hash
from .models import AuditChainHead, AuditEntry
from .records import AuditedRecord

MASK = "********"


def fmt_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, (date, Decimal)):
        return str(value)
    return str(value)


@contextmanager
def change_reason(session, reason: str | None):
    """Attach a reason to the changes made inside the block (flushed at exit)."""
    previous = session.info.get("reason")
    session.info["reason"] = (reason or "").strip() or None
    try:
        yield
        session.flush()
    finally:
        session.info["reason"] = previous


def _actor(session):
    return session.info.get("actor")


def append_rows(session, rows: list[dict]) -> None:
    """Append rows to the chain under the chain-head lock (same transaction)."""
    if not rows:
        return
    conn = session.connection()
    head = conn.execute(
        select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1).with_for_update()
    ).first()
    if head is None:
        raise RuntimeError("audit chain head missing: run `flask --app wsgi lims init`")
    seq, prev = head
    from .keys import audit_key

    key = audit_key(
        create=seq == 0
    )  # a new database's first row creates the key file; later, a missing key is an error
    now = utcnow()
    actor = _actor(session)
    out = []
    for row in rows:
        seq += 1
        full = {
            "id": seq,
            "ts": now,
            "user_id": actor.user_id if actor else None,
            "user_name": actor.name if actor else "unknown",
            "client": actor.client if actor else None,
            "record_version": None,
            "field": None,
            "old_value": None,
            "new_value": None,
            "reason": None,
            "record_id": None,
            "signature": None,
        }
        full.update(row)
        full["prev_hash"] = prev
        full["hash"] = prev = entry_hash(key, prev, full)
        out.append(full)
    conn.execute(insert(AuditEntry.__table__), out)
    conn.execute(update(AuditChainHead.__table__).where(AuditChainHead.id == 1).values(last_seq=seq, last_hash=prev))


def audit_event(
    session,
    action: str,
    entity: str,
    record_id=None,
    *,
    reason=None,
    field=None,
    old=None,
    new=None,
    record_version=None,
    signature: str | None = None,
) -> None:
    """Record an event that is not a row change (login, signature, print, ...).

    ``signature``: the canonical record of the signature a "sign" row records (``integrity.signature_record``)."""
    append_rows(
        session,
        [
            {
                "action": action,
                "entity": entity,
                "record_id": None if record_id is None else str(record_id),
                "record_version": record_version,
                "field": field,
                "old_value": fmt_value(old),
                "new_value": fmt_value(new),
                "reason": reason,
                "signature": signature,
            }
        ],
    )


def _columns(obj):
    return [c.key for c in inspect(obj).mapper.column_attrs]


def _shown(obj, key, value):
    return MASK if (key in obj.__audit_mask__ and value is not None) else fmt_value(value)


@event.listens_for(OrmSession, "before_flush")
def _before_flush(session, _ctx, _instances):
    actor = _actor(session)
    now = None
    for obj in session.new:
        if isinstance(obj, AuditedRecord):
            now = now or utcnow()
            obj.created_at = obj.created_at or now
            obj.updated_at = now
            obj.created_by_id = obj.created_by_id or (actor.user_id if actor else None)
            obj.updated_by_id = actor.user_id if actor else None
    for obj in session.dirty:
        if isinstance(obj, AuditedRecord) and session.is_modified(obj, include_collections=False):
            if not session.info.get("reason"):
                raise ReasonRequired(_("A reason is required to change an existing record."))
            now = now or utcnow()
            obj.updated_at = now
            obj.updated_by_id = actor.user_id if actor else None
    for obj in session.deleted:
        if isinstance(obj, AuditedRecord) and not session.info.get("reason"):
            raise ReasonRequired(_("A reason is required to delete a record."))


@event.listens_for(OrmSession, "after_flush")
def _after_flush(session, _ctx):
    rows: list[dict] = []
    reason = session.info.get("reason")
    for obj in session.new:
        if not isinstance(obj, AuditedRecord):
            continue
        base = {
            "action": "create",
            "entity": obj.audit_entity,
            "record_id": obj.audit_record_id,
            "record_version": obj.version,
            "reason": reason,
        }
        for key in _columns(obj):
            if key in obj.META_FIELDS or key in obj.__audit_exclude__:
                continue
            value = getattr(obj, key)
            if value is not None:
                rows.append({**base, "field": key, "new_value": _shown(obj, key, value)})
    for obj in session.dirty:
        if not isinstance(obj, AuditedRecord):
            continue
        state = inspect(obj)
        base = {
            "action": "update",
            "entity": obj.audit_entity,
            "record_id": obj.audit_record_id,
            "record_version": obj.version,
            "reason": reason,
        }
        for key in _columns(obj):
            if key in obj.META_FIELDS or key in obj.__audit_exclude__:
                continue
            hist = state.attrs[key].history
            if not hist.has_changes():
                continue
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if fmt_value(old) == fmt_value(new):
                continue
            rows.append({**base, "field": key, "old_value": _shown(obj, key, old), "new_value": _shown(obj, key, new)})
    for obj in session.deleted:
        if not isinstance(obj, AuditedRecord):
            continue
        base = {
            "action": "delete",
            "entity": obj.audit_entity,
            "record_id": obj.audit_record_id,
            "record_version": obj.version,
            "reason": reason,
        }
        for key in _columns(obj):
            if key in obj.META_FIELDS or key in obj.__audit_exclude__:
                continue
            rows.append({**base, "field": key, "old_value": _shown(obj, key, getattr(obj, key))})
    append_rows(session, rows)


def verify_stored_chain(session, checkpoints=None):
    """Verify the stored chain, its head, its signatures and the checkpoints (``lims audit-verify``).

    ``checkpoints``: None reads the installation's checkpoint store."""
    from .checkpoints import read_store
    from .integrity import verify_database
    from .keys import audit_key

    head = session.execute(select(AuditChainHead.last_seq).where(AuditChainHead.id == 1)).scalar()
    first = session.execute(select(AuditEntry.id).limit(1)).scalar()
    key = audit_key(create=not head and first is None)  # an empty trail may get its key now; a trail with rows never
    return verify_database(session, key, read_store(key) if checkpoints is None else checkpoints)
