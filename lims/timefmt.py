"""Show stored UTC times in the lab's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def lab_zone() -> ZoneInfo:
    name = current_app.config["TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def to_lab(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(lab_zone())


def lab_today():
    """Today's date in the lab's zone (the clock's now): the day rules and forms count in."""
    from .clock import utcnow

    return to_lab(utcnow()).date()


def format_dt(dt: datetime | None, seconds: bool = False) -> str:
    """e.g. '2026-11-23 14:05 CST' - unambiguous in screens, PDFs and messages."""
    local = to_lab(dt)
    if local is None:
        return ""
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def lab_day_bounds_utc(day):
    """The UTC instants where a lab-zone calendar day starts and ends."""
    from datetime import time, timedelta

    start = datetime.combine(day, time.min, tzinfo=lab_zone()).astimezone(UTC)
    return start, start + timedelta(days=1)
