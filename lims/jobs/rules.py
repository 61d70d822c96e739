"""Pure rules of the scheduled work: time slots, and when a donor, a sample or a report is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

RESCREEN_WARNING_DAYS = 7
SAE_WARNING_HOURS = 24


def interval_slot(now: datetime, minutes: int) -> datetime:
    """The start of the ``minutes``-long slot ``now`` falls in (UTC, aligned to the hour)."""
    now = now.astimezone(UTC)
    floored = (now.minute // minutes) * minutes
    return now.replace(minute=floored, second=0, microsecond=0)


def daily_slot(now: datetime, zone: ZoneInfo) -> datetime:
    """Midnight of the lab day ``now`` falls in, as UTC: a daily job runs once per lab day."""
    day = now.astimezone(zone).date()
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def rescreen_due(until: date | None, today: date, days: int = RESCREEN_WARNING_DAYS) -> bool:
    """Eligibility ends within the next ``days`` days (today included): time to re-screen."""
    return until is not None and today <= until <= today + timedelta(days=days)


def eligibility_over(until: date | None, today: date) -> bool:
    """Eligible through ``until``: from the next day on the screening has expired."""
    return until is not None and today > until


def retained_due(retained_until: date, today: date) -> bool:
    """Kept through its keep-until date; due for disposal from the day after."""
    return today > retained_until


def disposal_problem(retained_until: date, disposed_on: date | None, today: date, method: str) -> str | None:
    if disposed_on is None:
        return "date_missing"
    if disposed_on > today:
        return "date_future"
    if disposed_on <= retained_until:
        return "too_early"
    if not (method or "").strip():
        return "method_missing"
    return None


def report_state(
    due: datetime | None, reported: datetime | None, now: datetime, warn_hours: int = SAE_WARNING_HOURS
) -> str | None:
    """An SAE report: "missed" once its deadline passed unreported, "soon" within ``warn_hours``, else None."""
    if due is None or reported is not None:
        return None
    if now > due:
        return "missed"
    if now >= due - timedelta(hours=warn_hours):
        return "soon"
    return None
