"""Donation receipt: only from a donor eligible that day who passed the donation-day check."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlmodel import select

from ..core.counters import next_number
from ..donors.donation_day import can_donate
from ..donors.models import Donor
from ..errors import NotFound, RuleViolation
from ..timefmt import to_lab
from . import explain
from .models import Donation
from .rules import donation_code, receipt_problems, retained_until
from .spec import active_spec, limits_of


def get(session, code: str) -> Donation:
    d = by_code(session, code)
    if d is None:
        raise NotFound(_("No such donation."))
    return d


def by_code(session, code: str) -> Donation | None:
    return session.exec(select(Donation).where(Donation.code == (code or "").strip().upper())).first()


def receive(session, donor: Donor, data: dict, user, now: datetime) -> Donation:
    """Record a donation as received; refused with every reason when it cannot be accepted."""
    spec = active_spec(session)
    if spec is None:
        raise RuleViolation(_("There is no active manufacturing specification."))
    limits = limits_of(spec)
    collected, received = data["collected_at"], data["received_at"]
    day = to_lab(collected).date()
    allowed, why = can_donate(session, donor, day)
    problems = receipt_problems(limits, collected, received, now, Decimal(data["mass_g"]), int(data["bristol"]))
    messages = ([] if allowed else [why]) + [explain.text(c, p) for c, p in problems]
    if not (data.get("retained_location") or "").strip():
        messages.append(_("Enter where the 2 mL retained sample is stored."))
    if messages:
        raise RuleViolation(" ".join(messages))
    code = donation_code(day, next_number(session, f"donation-{day:%Y%m%d}"))
    donation = Donation(
        code=code,
        donor_id=donor.id,
        spec_id=spec.id,
        collection_day=day,
        collected_at=collected,
        received_at=received,
        receipt_temp_c=Decimal(data["receipt_temp_c"]),
        mass_g=Decimal(data["mass_g"]),
        bristol=int(data["bristol"]),
        appearance=data["appearance"].strip(),
        received_by_id=user.id,
        retained_ml=limits.retained_sample_ml,
        retained_location=data["retained_location"].strip(),
        retained_until=retained_until(day, limits),
    )
    session.add(donation)
    session.flush()
    return donation


def of_donor(session, donor_id: int) -> list[Donation]:
    return list(session.exec(select(Donation).where(Donation.donor_id == donor_id).order_by(Donation.id.desc())).all())


def recent(session, limit: int = 100) -> list[Donation]:
    return list(session.exec(select(Donation).order_by(Donation.id.desc()).limit(limit)).all())
