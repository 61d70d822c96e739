"""Registering recipients and correcting their records; every refusal lists all its reasons."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.trail import change_reason
from ..core.counters import next_number
from ..errors import NotFound, RuleViolation
from .models import Recipient, RecipientIdentity
from .rules import recipient_problems

CODE_RE = re.compile(r"^P-\d{4,}$")
FACT_FIELDS = (
    "study",
    "sex",
    "date_of_birth",
    "diagnosis",
    "stage",
    "tnm",
    "metastasis_sites",
    "ecog",
    "prior_lines",
    "consent_date",
    "notes",
)
IDENTITY_FIELDS = ("full_name", "hospital_number", "phone")

_TEXTS = {
    "sex": lambda p: _("Choose the sex."),
    "dob_missing": lambda p: _("Enter the date of birth."),
    "dob_future": lambda p: _("The date of birth is in the future."),
    "diagnosis_missing": lambda p: _("Enter the diagnosis."),
    "stage": lambda p: _("The stage must be one of %(allowed)s.", **p),
    "tnm": lambda p: _('"%(value)s" is not a TNM classification such as T3N1M1.', **p),
    "ecog": lambda p: _("The ECOG score must be a whole number from %(min)s to %(max)s (was %(value)s).", **p),
    "prior_lines": lambda p: _("Prior treatment lines must be a whole number from 0 to %(max)s (was %(value)s).", **p),
    "consent_missing": lambda p: _("Enter the date of informed consent."),
    "consent_future": lambda p: _("The consent date %(date)s is in the future.", **p),
    "consent_minor": lambda p: _(
        "The recipient was %(age)s at consent; the study enrols adults (%(min)s or older).", **p
    ),
    "consent_after_fmt": lambda p: _("Consent on %(date)s is after the first FMT on %(first)s.", **p),
}


def problems_text(problems) -> str:
    return " ".join(_TEXTS[code](params) for code, params in problems)


def normalise(facts: dict) -> dict:
    out = {k: facts.get(k) for k in FACT_FIELDS}
    for k in ("study", "diagnosis", "tnm", "metastasis_sites"):
        out[k] = (out.get(k) or "").strip()
    out["notes"] = (out.get("notes") or "").strip() or None
    return out


def by_code(session, code: str) -> Recipient | None:
    return session.exec(select(Recipient).where(Recipient.code == (code or "").strip().upper())).first()


def get(session, code: str) -> Recipient:
    r = by_code(session, code)
    if r is None:
        raise NotFound(_("No recipient has the code %(code)s.", code=code))
    return r


def identity_of(session, r: Recipient) -> RecipientIdentity | None:
    return session.exec(select(RecipientIdentity).where(RecipientIdentity.recipient_id == r.id)).first()


def register(session, facts: dict, identity: dict, today: date) -> Recipient:
    facts = normalise(facts)
    problems = recipient_problems(facts, today)
    hospital_number = re.sub(r"\s", "", identity.get("hospital_number") or "").upper()
    messages = [problems_text(problems)] if problems else []
    if not (identity.get("full_name") or "").strip():
        messages.append(_("Enter the full name."))
    if not hospital_number:
        messages.append(_("Enter the hospital number."))
    else:
        existing = session.exec(
            select(RecipientIdentity).where(RecipientIdentity.hospital_number == hospital_number)
        ).first()
        if existing is not None:
            other = session.get(Recipient, existing.recipient_id)
            messages.append(
                _(
                    "Hospital number %(n)s is already registered as recipient %(code)s.",
                    n=hospital_number,
                    code=other.code,
                )
            )
    if messages:
        raise RuleViolation(" ".join(messages))
    r = Recipient(code=f"P-{next_number(session, 'recipient'):04d}", **facts)
    session.add(r)
    session.flush()
    session.add(
        RecipientIdentity(
            recipient_id=r.id,
            full_name=identity["full_name"].strip(),
            hospital_number=hospital_number,
            phone=(identity.get("phone") or "").strip(),
        )
    )
    session.flush()
    return r


def update_facts(session, r: Recipient, expected_version, facts: dict, reason: str, today: date, labels=None) -> None:
    facts = normalise(facts)
    check_version(session, r, expected_version, facts, labels, require_ref=True)
    from .course_models import Course

    first = session.exec(select(Course.day1).where(Course.recipient_id == r.id).order_by(Course.day1)).first()
    problems = recipient_problems(facts, today, first_fmt=first)
    if problems:
        raise RuleViolation(problems_text(problems))
    with change_reason(session, reason):
        for k in FACT_FIELDS:
            if getattr(r, k) != facts[k]:
                setattr(r, k, facts[k])


def update_identity(session, r: Recipient, expected_version, identity: dict, reason: str, labels=None) -> None:
    """Correct the name, hospital number or phone; the same refusals as at registration, a reason, audited."""
    ident = identity_of(session, r)
    hospital_number = re.sub(r"\s", "", identity.get("hospital_number") or "").upper()
    values = {
        "full_name": (identity.get("full_name") or "").strip(),
        "hospital_number": hospital_number,
        "phone": (identity.get("phone") or "").strip(),
    }
    check_version(session, ident, expected_version, values, labels, require_ref=True)
    messages = []
    if not values["full_name"]:
        messages.append(_("Enter the full name."))
    if not hospital_number:
        messages.append(_("Enter the hospital number."))
    else:
        other = session.exec(
            select(RecipientIdentity).where(
                RecipientIdentity.hospital_number == hospital_number, RecipientIdentity.id != ident.id
            )
        ).first()
        if other is not None:
            messages.append(
                _(
                    "Hospital number %(n)s is already registered as recipient %(code)s.",
                    n=hospital_number,
                    code=session.get(Recipient, other.recipient_id).code,
                )
            )
    if messages:
        raise RuleViolation(" ".join(messages))
    if all(getattr(ident, k) == v for k, v in values.items()):
        raise RuleViolation(_("Nothing was changed."))
    with change_reason(session, reason):
        for k, v in values.items():
            if getattr(ident, k) != v:
                setattr(ident, k, v)


def listing(session, after_id: int | None = None, limit: int = 50) -> list[Recipient]:
    q = select(Recipient)
    if after_id:
        q = q.where(Recipient.id < after_id)
    return list(session.exec(q.order_by(Recipient.id.desc()).limit(limit + 1)).all())
