"""Recording the disposal of a retained sample, once its keep-until date has passed."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlmodel import select

from ..errors import RuleViolation
from ..manufacturing.models import Donation
from . import rules
from .models import RetainedDisposal

_TEXTS = {
    "date_missing": lambda d: _("Enter the disposal date."),
    "date_future": lambda d: _("The disposal date is in the future."),
    "too_early": lambda d: _(
        "The retained sample of %(code)s must be kept through %(until)s.", code=d.code, until=d.retained_until
    ),
    "method_missing": lambda d: _("Enter how the sample was disposed of."),
}


def disposal_of(session, donation: Donation) -> RetainedDisposal | None:
    return session.exec(select(RetainedDisposal).where(RetainedDisposal.donation_id == donation.id)).first()


def dispose(
    session, donation: Donation, disposed_on: date | None, method: str, note: str | None, today: date
) -> RetainedDisposal:
    if disposal_of(session, donation) is not None:
        raise RuleViolation(_("The retained sample of %(code)s was already disposed of.", code=donation.code))
    from ..lookback.actions import covering_open_cases

    needed = covering_open_cases(session, donation)
    if needed:
        raise RuleViolation(
            _(
                "The retained sample of %(code)s is needed for re-testing by open lookback case %(cases)s.",
                code=donation.code,
                cases=", ".join(needed),
            )
        )
    problem = rules.disposal_problem(donation.retained_until, disposed_on, today, method)
    if problem:
        raise RuleViolation(_TEXTS[problem](donation))
    row = RetainedDisposal(
        donation_id=donation.id,
        donation_code=donation.code,
        disposed_on=disposed_on,
        method=method.strip(),
        note=(note or "").strip() or None,
    )
    session.add(row)
    session.flush()
    return row
