"""Electronic signatures (21 CFR 11.50, 11.70, 11.200).

A signature re-asks the password every time, stores its meaning and binds to
the record's type, id, version and a hash of its content. When the record
changes afterwards the signature reads as invalid until someone signs again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect
from sqlmodel import select

from ..clock import utcnow
from ..db import defer_write
from ..errors import SignatureRefused
from .models import Signature
from .trail import audit_event, fmt_value

MEANINGS = {
    "performed": _l("performed"),
    "verified": _l("verified"),
    "reviewed": _l("reviewed"),
    "approved": _l("approved"),
    "released": _l("released"),
    "rejected": _l("rejected"),
}


def record_content_hash(record) -> str:
    """SHA-256 over every column of the record, in a canonical form."""
    cols = sorted(c.key for c in inspect(record).mapper.column_attrs)
    payload = json.dumps({k: fmt_value(getattr(record, k)) for k in cols}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def four_eyes(signer_id: int, performer_ids) -> bool:
    """True when the signer is a second person (did not perform the work)."""
    return signer_id not in {p for p in performer_ids if p is not None}


def sign(
    session,
    record,
    meaning: str,
    user,
    password: str,
    *,
    comment: str | None = None,
    performers=(),
    client: str | None = None,
) -> Signature:
    """Sign ``record`` with ``meaning`` after re-checking the signer's password.

    ``performers`` are the user ids who did the work; when given, the signer
    must not be one of them (four-eyes).
    """
    return sign_many(
        session, [record], meaning, user, password, comment=comment, client=client, performers_of=lambda _r: performers
    )[0]


def sign_many(
    session,
    records,
    meaning: str,
    user,
    password: str,
    *,
    comment: str | None = None,
    performers_of=lambda r: (),
    client: str | None = None,
) -> list[Signature]:
    """One password check, one signature per record (e.g. verifying a panel of results).

    Each signature binds to the record's version and content as now stored.
    All or nothing: if any record fails the four-eyes rule, none is signed.
    """
    from ..auth.operations import check_signature_password

    records = list(records)
    if meaning not in MEANINGS:
        raise SignatureRefused(_("Unknown signature meaning."))
    if not records:
        raise SignatureRefused(_("There is nothing to sign."))
    if not check_signature_password(session, user, password, client):
        raise SignatureRefused(
            _("Signature refused: the password is not correct. Failed attempts count toward the account lockout.")
        )
    from .fingerprint import refuse_if_stale

    for record in records:
        if not four_eyes(user.id, performers_of(record)):
            entity, rid = record.audit_entity, record.audit_record_id
            defer_write(
                session,
                lambda s, entity=entity, rid=rid: audit_event(  # bound now: the loop goes on to other records
                    s, "signature_refused", entity, rid, reason="four-eyes: signer performed the work"
                ),
            )
            if len(records) == 1:
                raise SignatureRefused(
                    _(
                        "Four-eyes rule: you performed or last changed this record, so another person must sign it as %(meaning)s.",
                        meaning=MEANINGS[meaning],
                    )
                )
            raise SignatureRefused(
                _(
                    "Four-eyes rule: you entered or changed some of these records, so another person must sign them as %(meaning)s.",
                    meaning=MEANINGS[meaning],
                )
            )
    refuse_if_stale(session)  # the form showed other content than is stored now (lims.audit.fingerprint)
    session.flush()
    now = utcnow()
    sigs = []
    for record in records:
        sig = Signature(
            user_id=user.id,
            user_name=user.full_name,
            meaning=meaning,
            record_type=record.audit_entity,
            record_id=record.audit_record_id,
            record_version=record.version,
            content_hash=record_content_hash(record),
            signed_at=now,
            comment=(comment or "").strip() or None,
        )
        session.add(sig)
        sigs.append(sig)
    session.flush()  # the signatures' ids, which their audit rows record
    from .integrity import signature_record

    for record, sig in zip(records, sigs):
        # the chained row carries the whole signature: deleting or changing a signature row breaks audit-verify
        audit_event(
            session,
            "sign",
            record.audit_entity,
            record.audit_record_id,
            field="meaning",
            new=meaning,
            reason=sig.comment,
            record_version=record.version,
            signature=signature_record(sig),
        )
    session.flush()
    return sigs


def sign_pending(
    session,
    records,
    meaning: str,
    user,
    password: str,
    *,
    performers_of,
    nothing_left: str,
    comment: str | None = None,
    client: str | None = None,
) -> int:
    """Sign every record that has no valid signature with this meaning yet (e.g. verify a panel); returns how many.

    ``nothing_left`` is the refusal when all are signed already.
    """
    from ..errors import RuleViolation

    records = list(records)
    done = (
        valid_signatures(session, records[0].audit_entity, {r.audit_record_id: r for r in records}, meaning)
        if records
        else {}
    )
    pending = [r for r in records if r.audit_record_id not in done]
    if not pending:
        raise RuleViolation(nothing_left)
    sign_many(session, pending, meaning, user, password, comment=comment, client=client, performers_of=performers_of)
    return len(pending)


def valid_signatures(session, record_type: str, records: dict, meaning: str) -> dict:
    """record_id -> the latest valid signature with this meaning, for many records in one query."""
    if not records:
        return {}
    rows = session.exec(
        select(Signature)
        .where(
            Signature.record_type == record_type, Signature.meaning == meaning, Signature.record_id.in_(list(records))
        )
        .order_by(Signature.id)
    ).all()
    out = {}
    for sig in rows:
        rec = records[sig.record_id]
        if signature_state(sig, rec).valid:
            out[sig.record_id] = sig
    return out


@dataclass
class SignatureView:
    signature: Signature
    valid: bool
    problem: str | None


def signature_state(sig: Signature, record) -> SignatureView:
    if record.version != sig.record_version:
        return SignatureView(
            sig,
            False,
            _("record changed after signing (signed version %(a)s, now %(b)s)", a=sig.record_version, b=record.version),
        )
    if record_content_hash(record) != sig.content_hash:
        return SignatureView(sig, False, _("record content does not match the signed content"))
    return SignatureView(sig, True, None)


def signatures_for(session, record) -> list[SignatureView]:
    rows = session.exec(
        select(Signature)
        .where(Signature.record_type == record.audit_entity, Signature.record_id == record.audit_record_id)
        .order_by(Signature.signed_at, Signature.id)
    ).all()
    return [signature_state(s, record) for s in rows]


def current_signature(session, record, meaning: str) -> SignatureView | None:
    """The latest signature with this meaning, or None."""
    views = [v for v in signatures_for(session, record) if v.signature.meaning == meaning]
    return views[-1] if views else None
