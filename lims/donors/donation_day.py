"""The donation-day check, and whether a donor may donate on a day.

Manufacturing's donation receipt calls ``can_donate``: a donation is taken
only from a donor eligible on the collection date who passed that day's check.
"""

from __future__ import annotations

import json
from datetime import date

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.trail import change_reason
from ..errors import RuleViolation
from .models import Donor, ScreeningProtocol
from .protocols import display_name, item_spec, items_of
from .rules import donation_day_check, eligible_on
from .screening_models import DonationDayCheck, EligibilityDecision


def _protocol_of_decision(session, donor: Donor) -> ScreeningProtocol | None:
    """The protocol version of the decision that made the donor eligible (its questions apply)."""
    dec = session.exec(
        select(EligibilityDecision)
        .where(EligibilityDecision.donor_id == donor.id)
        .order_by(EligibilityDecision.id.desc())
    ).first()
    return session.get(ScreeningProtocol, dec.protocol_id) if dec else None


def questions(session, donor: Donor):
    protocol = _protocol_of_decision(session, donor)
    return protocol, (items_of(session, protocol, kinds=("donation_day",)) if protocol else [])


def record(session, donor: Donor, answers: dict[str, str], today: date) -> DonationDayCheck:
    if not eligible_on(donor.status, donor.status_until, today):
        raise RuleViolation(
            _(
                "Donor %(code)s is not eligible today (%(status)s): no donation-day check is possible.",
                code=donor.code,
                status=_status_text(donor),
            )
        )
    protocol, items = questions(session, donor)
    specs = tuple(item_spec(i) for i in items)
    try:
        result = donation_day_check(specs, answers, today)
    except ValueError as err:
        missing = [display_name(i) for i in items if i.code in err.args[0]]
        raise RuleViolation(_("Answer every question (no or yes): %(items)s.", items="; ".join(missing))) from None
    check = DonationDayCheck(
        donor_id=donor.id,
        protocol_id=protocol.id,
        check_date=today,
        answers=json.dumps({i.code: answers[i.code].strip().lower() for i in items}),
        passed=result.passed,
        deferred_until=result.until,
    )
    session.add(check)
    session.flush()
    if not result.passed:
        yes = ", ".join(i.code for i in items if answers[i.code].strip().lower() == "yes")
        with change_reason(session, f"donation-day check #{check.id}: yes to {yes}"):
            donor.status = "deferred"
            donor.status_until = result.until
    return check


def _status_text(donor: Donor) -> str:
    from .forms import STATUS_LABELS

    label = str(STATUS_LABELS.get(donor.status, donor.status))
    if donor.status == "suspended" and donor.status_reason:
        return _(
            "%(status)s: %(reason)s; only a signed eligibility decision lifts it",
            status=label,
            reason=donor.status_reason,
        )
    if donor.status_until:
        return _("%(status)s until %(d)s", status=label, d=donor.status_until)
    return label


def status_text(donor: Donor) -> str:
    """The donor's status as one sentence, with a suspension's cause (donor page, donation-day screen)."""
    return _status_text(donor)


def can_donate(session, donor: Donor, day: date) -> tuple[bool, str]:
    """(allowed, reason): eligible on the day and a passed donation-day check that day."""
    if not eligible_on(donor.status, donor.status_until, day):
        return False, _(
            "Donor %(code)s is not eligible on %(d)s (%(status)s).", code=donor.code, d=day, status=_status_text(donor)
        )
    check = session.exec(
        select(DonationDayCheck)
        .where(DonationDayCheck.donor_id == donor.id, DonationDayCheck.check_date == day)
        .order_by(DonationDayCheck.id.desc())
    ).first()
    if check is None:
        return False, _("Donor %(code)s has no donation-day check on %(d)s.", code=donor.code, d=day)
    if not check.passed:
        return False, _(
            "The donation-day check of %(d)s deferred donor %(code)s until %(until)s.",
            d=day,
            code=donor.code,
            until=check.deferred_until,
        )
    return True, _("Eligible until %(until)s; donation-day check passed on %(d)s.", until=donor.status_until, d=day)


def checks_of(session, donor: Donor) -> list[DonationDayCheck]:
    return list(
        session.exec(
            select(DonationDayCheck).where(DonationDayCheck.donor_id == donor.id).order_by(DonationDayCheck.id.desc())
        ).all()
    )
