"""Changes to donors and their identity records."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.trail import change_reason
from ..core.counters import next_number
from ..errors import NotFound, RuleViolation
from .models import DONOR_STATUSES, SEXES, Donor, DonorIdentity

CODE_RE = re.compile(r"^D-\d{4,}$")
NATIONAL_ID_RE = re.compile(r"^[0-9A-Z]{6,40}$")
FACT_FIELDS = ("sex", "date_of_birth", "height_cm", "weight_kg", "measured_on", "notes")
IDENTITY_FIELDS = ("full_name", "national_id", "phone")


class DuplicateDonor(RuleViolation):
    def __init__(self, message: str, existing_code: str):
        super().__init__(message)
        self.existing_code = existing_code


def normalise_national_id(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def by_code(session, code: str) -> Donor | None:
    return session.exec(select(Donor).where(Donor.code == (code or "").strip().upper())).first()


def get(session, code: str) -> Donor:
    donor = by_code(session, code)
    if donor is None:
        raise NotFound(_("No donor has the code %(code)s.", code=code))
    return donor


def identity_of(session, donor: Donor) -> DonorIdentity | None:
    return session.exec(select(DonorIdentity).where(DonorIdentity.donor_id == donor.id)).first()


def _decimal(value, low, high, message) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise RuleViolation(message) from None
    if not number.is_finite() or not (low <= number <= high):
        raise RuleViolation(message)
    return number.quantize(Decimal("0.1"))


def check_facts(facts: dict, today: date) -> dict:
    """Validate donor facts; returns them normalised. Raises RuleViolation with the first problem."""
    if facts.get("sex") not in SEXES:
        raise RuleViolation(_("Choose the donor's sex."))
    dob = facts.get("date_of_birth")
    if not isinstance(dob, date) or dob >= today:
        raise RuleViolation(_("The date of birth must be a past date."))
    if today.year - dob.year > 100:
        raise RuleViolation(_("The date of birth is more than 100 years ago; check it."))
    height = _decimal(facts.get("height_cm"), Decimal(100), Decimal(250), _("Height must be between 100 and 250 cm."))
    weight = _decimal(facts.get("weight_kg"), Decimal(20), Decimal(300), _("Weight must be between 20 and 300 kg."))
    measured = facts.get("measured_on")
    if not isinstance(measured, date) or measured > today:
        raise RuleViolation(_("The measurement date cannot be in the future."))
    if measured < dob:
        raise RuleViolation(_("The measurement date is before the date of birth."))
    return {**facts, "height_cm": height, "weight_kg": weight, "notes": (facts.get("notes") or "").strip() or None}


def check_identity(session, identity: dict, donor_id: int | None = None) -> dict:
    name = (identity.get("full_name") or "").strip()
    if not name:
        raise RuleViolation(_("The donor's name is required (kept in the restricted identity record)."))
    nid = normalise_national_id(identity.get("national_id"))
    if not NATIONAL_ID_RE.match(nid):
        raise RuleViolation(_("The national ID must be 6-40 letters and digits."))
    other = session.exec(select(DonorIdentity).where(DonorIdentity.national_id == nid)).first()
    if other is not None and other.donor_id != donor_id:
        existing = session.get(Donor, other.donor_id)
        raise DuplicateDonor(
            _("A donor with this national ID is already registered as %(code)s.", code=existing.code), existing.code
        )
    return {"full_name": name, "national_id": nid, "phone": (identity.get("phone") or "").strip()}


def register(session, facts: dict, identity: dict, today: date) -> Donor:
    facts = check_facts(facts, today)
    identity = check_identity(session, identity)
    code = f"D-{next_number(session, 'donor'):04d}"
    donor = Donor(code=code, status="candidate", **{k: facts.get(k) for k in FACT_FIELDS})
    session.add(donor)
    session.flush()
    session.add(DonorIdentity(donor_id=donor.id, **identity))
    session.flush()
    return donor


def update_facts(session, donor: Donor, expected_version, facts: dict, reason: str, today: date, labels=None) -> None:
    check_version(session, donor, expected_version, {k: facts.get(k) for k in FACT_FIELDS}, labels)
    facts = check_facts(facts, today)
    with change_reason(session, reason):
        for k in FACT_FIELDS:
            if getattr(donor, k) != facts.get(k):
                setattr(donor, k, facts.get(k))


def update_identity(session, donor: Donor, expected_version, identity: dict, reason: str, labels=None) -> None:
    record = identity_of(session, donor)
    check_version(session, record, expected_version, {k: identity.get(k) for k in IDENTITY_FIELDS}, labels)
    identity = check_identity(session, identity, donor.id)
    with change_reason(session, reason):
        for k in IDENTITY_FIELDS:
            if getattr(record, k) != identity[k]:
                setattr(record, k, identity[k])


def search(session, status: str | None, code: str | None, limit: int = 50, after_id: int | None = None):
    """A page of donors in registration order (keyset paging: constant cost at any registry size)."""
    q = select(Donor)
    if status in DONOR_STATUSES:
        q = q.where(Donor.status == status)
    if code:
        from ..core.scan import expect

        ident, problem, _found = expect(code, "DO")  # a scanned donor label searches for its code
        q = q.where(Donor.code.startswith(ident if not problem else code.strip().upper(), autoescape=True))
    if after_id:
        q = q.where(Donor.id > after_id)
    return session.exec(q.order_by(Donor.id).limit(limit + 1)).all()


FINAL_STATUSES = ("excluded", "retired")  # a suspension adds nothing: these donors never donate again


def suspend(session, donor: Donor, reason: str) -> bool:
    """Stop a donor from donating at once, because of a finding (a failing result, a lookback case).

    A finding must act before anyone signs a decision about it: an eligible donor with a positive
    re-screen or an open lookback case would otherwise pass the donation-day check. Only a signed
    eligibility decision (``screening.approve``) lifts a suspension. Returns whether the donor changed.
    """
    reason = (reason or "").strip()
    if donor.status in FINAL_STATUSES or not reason:
        return False
    if donor.status == "suspended":
        if reason in (donor.status_reason or ""):
            return False
        reason = f"{donor.status_reason}; {reason}" if donor.status_reason else reason
    with change_reason(session, f"suspended: {reason}"):
        donor.status, donor.status_until, donor.status_reason = "suspended", None, reason
    return True


def retire(session, donor: Donor, expected_version, reason: str) -> None:
    """A donor leaves the programme (own wish, moved away...); the record stays for traceability."""
    check_version(session, donor, expected_version)
    if donor.status == "retired":
        raise RuleViolation(_("Donor %(code)s is already retired.", code=donor.code))
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required to change an existing record."))
    with change_reason(session, reason):
        donor.status = "retired"
        donor.status_until = None
        donor.status_reason = reason.strip()
