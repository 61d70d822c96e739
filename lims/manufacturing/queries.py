"""Reads other packages (labels, clinical, lookback, the home page) make of manufacturing records.

The effective state of a dose unit lives here once: every page, label, scan and report asks this module
what a unit is *now*, so an expired, thaw-expired or held unit never shows as usable anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import g, has_request_context
from sqlmodel import select

from . import explain
from .models import Batch, DoseUnit, ManufacturingSpec
from .rules import USABLE_UNIT_STATUSES, effective_unit_status, printed_minute, unit_use_by
from .spec import limits_of


@dataclass(frozen=True)
class UnitState:
    code: str  # effective status: a stored status, or "expired" / "on_hold" computed now
    stored: str  # the status as stored
    reason: str | None  # why the effective status differs from the stored one, as a sentence
    usable: bool  # released and in date: may be reserved, issued or given
    use_by: datetime | None = None  # the last usable instant: expiry, or thaw + N h when that comes first
    use_by_rule: str = "expiry"  # which rule set use_by: "expiry" or "thaw"
    thawed_at: datetime | None = None
    thaw_hours: int = 6
    storage: str = "frozen"  # fresh or frozen, as filled

    @property
    def label(self) -> str:
        return str(explain.UNIT_STATUS_LABELS.get(self.code, self.code))

    @property
    def do_not_use(self) -> bool:
        """Printed as DO NOT USE on a label: expired, recalled, held, discarded."""
        return self.code in ("expired", "recalled", "on_hold", "discarded")

    @property
    def use_by_minute(self) -> datetime | None:
        """The minute the unit page, the dose page and the label all print as "use by"."""
        return printed_minute(self.use_by) if self.use_by else None

    @property
    def storage_condition(self) -> str:
        """Where the unit must be kept now: "frozen" (-80 °C), "fresh" or "thawed" (2-8 °C, within the window)."""
        return "thawed" if self.thawed_at is not None else self.storage

    def storage_text(self) -> str:
        """The storage line of the unit page, in the reader's language (a label prints both languages)."""
        from flask_babel import gettext as _

        from ..timefmt import format_dt

        if self.thawed_at is not None:
            return _(
                "Thawed %(t)s · keep at 2-8 °C and use within %(h)s h", t=format_dt(self.thawed_at), h=self.thaw_hours
            )
        return _("Store at -80 °C") if self.storage == "frozen" else _("Store at 2-8 °C")


def _cache() -> dict:
    """Per-request memo of spec limits and holds (a batch page asks for dozens of units)."""
    if has_request_context():
        return g.setdefault("_unit_state_cache", {})
    return {}


def _thaw_hours(session, batch_id: int, cache: dict) -> int:
    key = ("thaw", batch_id)
    if key not in cache:
        spec_id = session.exec(select(Batch.spec_id).where(Batch.id == batch_id)).one()
        cache[key] = limits_of(session.get(ManufacturingSpec, spec_id)).thaw_use_hours
    return cache[key]


def _held_by(session, u: DoseUnit, cache: dict) -> tuple[str, ...]:
    key = ("held", u.batch_id)
    if key not in cache:
        from .release import holding_cases

        cache[key] = tuple(holding_cases(session, "batch", u.batch_id))
    return cache[key]


def unit_state(session, u: DoseUnit, now: datetime) -> UnitState:
    """What the unit is at ``now`` and until when it may be used: the one answer pages, labels and the issue desk
    use."""
    cache = _cache()
    hours = _thaw_hours(session, u.batch_id, cache)
    code, why = effective_unit_status(u.status, now, u.expires_at, u.thawed_at, hours, _held_by(session, u, cache))
    use_by, rule = unit_use_by(u.expires_at, u.thawed_at, hours)
    return UnitState(
        code,
        u.status,
        explain.text(*why) if why else None,
        code in USABLE_UNIT_STATUSES,
        use_by,
        rule,
        u.thawed_at,
        hours,
        u.storage,
    )


def unit_states(session, units, now: datetime) -> dict[int, UnitState]:
    return {u.id: unit_state(session, u, now) for u in units}


def batch_expires_at(session, batch: Batch) -> datetime | None:
    """The first instant every unit of the batch is expired (None before the fill)."""
    from sqlalchemy import func

    return session.exec(select(func.max(DoseUnit.expires_at)).where(DoseUnit.batch_id == batch.id)).one()


def batch_state(session, batch: Batch, now: datetime) -> tuple[str, str | None]:
    """(effective status, why it differs): a batch past its expiry is expired before the job marks it."""
    from .release import holding_cases
    from .rules import effective_batch_status

    held = tuple(holding_cases(session, "batch", batch.id))
    code, why = effective_batch_status(batch.status, now, batch_expires_at(session, batch), held)
    return code, explain.text(*why) if why else None
