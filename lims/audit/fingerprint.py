"""What a person saw when they opened a form: a fingerprint of the records shown, checked when they post.

A signature means "I reviewed this content". A page opened before the record changed shows other content,
so a signing (or editing) form carries the fingerprint of what it displayed, and the post is refused when the
records no longer match it: the signer reviews again rather than signing content they never saw.
"""

from __future__ import annotations

import hashlib
import json

from flask_babel import gettext as _

from ..errors import StaleRecord
from ..timefmt import format_dt


def fingerprint(records, *extra) -> str:
    """SHA-256 over each record's type, id, version and content, plus any extra facts shown (e.g. the newest
    audit row a review covers). Order-independent; a record added or removed changes it."""
    from .signatures import record_content_hash

    parts = sorted([r.audit_entity, r.audit_record_id, r.version, record_content_hash(r)] for r in records)
    payload = json.dumps([parts, [str(e) for e in extra]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def expect_content(session, expected: str | None, records, *extra) -> None:
    """Compare now, before the action changes anything.

    A page opened before the records changed is refused at once, saying who changed them and when. A post
    without any fingerprint (no such form was on the signer's page) is judged by the rules first, so a
    blocker, four-eyes or a wrong password keeps its own message, and is refused by ``sign_many`` at the
    moment it would sign (the request rolls back)."""
    try:
        check_fingerprint(session, expected, records, *extra)
    except StaleRecord as err:
        if (expected or "").strip():
            raise
        session.info["content_stale"] = err


def refuse_if_stale(session) -> None:
    """Called by ``lims.audit.signatures.sign_many`` before it stores a signature."""
    err = session.info.pop("content_stale", None)
    if err is not None:
        raise err


def last_change(session, records) -> tuple[str, object]:
    """Who made the newest audited change to any of the records, and when (the trail knows, not updated_at)."""
    from sqlalchemy import and_, or_
    from sqlmodel import select

    from .models import AuditEntry

    records = list(records)
    if not records:
        return _("the system"), None
    clause = or_(
        *[and_(AuditEntry.entity == r.audit_entity, AuditEntry.record_id == r.audit_record_id) for r in records]
    )
    row = session.exec(
        select(AuditEntry)
        .where(clause, AuditEntry.action.not_in(("print", "report")))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return _("the system"), None
    return row.user_name, row.ts


def check_fingerprint(session, expected: str | None, records, *extra) -> None:
    """Refuse (409, nothing stored) when what the form showed is not what is stored now."""
    records = list(records)
    if (expected or "").strip() == fingerprint(records, *extra):
        return
    who, when = last_change(session, records)
    raise StaleRecord(
        _(
            "What you are signing changed since you opened it (last change by %(who)s at %(when)s); review again. "
            "Nothing was signed or saved.",
            who=who,
            when=format_dt(when) if when else "-",
        ),
        changed_by=who,
        changed_at=when,
    )
