"""The lookback scope, as a pure rule: which donations a donor's positive finding reaches back to.

From the later of (the last fully negative screening's sample date) and (the
positive sample date minus the window, default 28 days: FDA's SARS-CoV-2 rule),
up to now. A donor with no negative screening before the finding has every
donation in scope. Donations on the start day itself are in scope: a sample
taken that day does not prove the stool given that day negative.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

DEFAULT_WINDOW_DAYS = 28
DEFAULT_TARGET_DAYS = 3


@dataclass(frozen=True)
class Scope:
    start: date | None           # None: every donation of the donor
    basis: str                   # "negative_screening", "window", "no_negative"
    last_negative: date | None
    window_start: date


def scope(finding: date, last_negative: date | None, window_days: int = DEFAULT_WINDOW_DAYS) -> Scope:
    window_start = finding - timedelta(days=window_days)
    if last_negative is None:
        return Scope(None, "no_negative", None, window_start)
    if last_negative >= window_start:
        return Scope(last_negative, "negative_screening", last_negative, window_start)
    return Scope(window_start, "window", last_negative, window_start)


def in_scope(s: Scope, donation_day: date) -> bool:
    return s.start is None or donation_day >= s.start


def last_negative_before(negative_sample_days: list[date], finding: date) -> date | None:
    """The latest fully negative screening sampled before the finding (not the screening that found it)."""
    earlier = [d for d in negative_sample_days if d < finding]
    return max(earlier) if earlier else None


def overdue(opened_at: datetime, now: datetime, target_days: int = DEFAULT_TARGET_DAYS) -> bool:
    """Past the target for completing the record review (calendar days from the trigger)."""
    return now > opened_at + timedelta(days=target_days)
