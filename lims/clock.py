"""The one source of "now".

All times come from the server as aware UTC datetimes (SQLModel stores them as UTC). Tests and the scheduler
replace the clock on the app (``app.extensions['clock']``) to move time across
rule boundaries without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime | None = None):
        self._now = start or SystemClock().now()
        if self._now.tzinfo is None:
            self._now = self._now.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when if when.tzinfo else when.replace(tzinfo=UTC)

    def advance(self, **kwargs) -> datetime:
        self._now += timedelta(**kwargs)
        return self._now


def utcnow() -> datetime:
    """Now from the current app's clock, or the system clock outside an app."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.extensions["clock"].now()
    return SystemClock().now()
