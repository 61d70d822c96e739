"""The scheduled jobs' pure rules at their boundaries: slots, re-screening, eligibility, retained samples, SAE clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lims.jobs import rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = UTC
US = timedelta(microseconds=1)
TODAY = date(2026, 11, 23)


# --- slots -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now, minutes, slot",
    [
        (datetime(2026, 11, 23, 2, 0, tzinfo=UTC), 15, datetime(2026, 11, 23, 2, 0, tzinfo=UTC)),
        (datetime(2026, 11, 23, 2, 14, 59, 999999, tzinfo=UTC), 15, datetime(2026, 11, 23, 2, 0, tzinfo=UTC)),
        (datetime(2026, 11, 23, 2, 15, tzinfo=UTC), 15, datetime(2026, 11, 23, 2, 15, tzinfo=UTC)),
        (datetime(2026, 11, 23, 2, 59, 59, tzinfo=UTC), 15, datetime(2026, 11, 23, 2, 45, tzinfo=UTC)),
        (datetime(2026, 11, 23, 2, 59, 59, tzinfo=UTC), 60, datetime(2026, 11, 23, 2, 0, tzinfo=UTC)),
        (datetime(2026, 11, 23, 3, 0, tzinfo=UTC), 60, datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),
        # a lab-zone time is the same instant: the slot is in UTC
        (datetime(2026, 11, 23, 10, 20, tzinfo=SHANGHAI), 15, datetime(2026, 11, 23, 2, 15, tzinfo=UTC)),
    ],
)
def test_interval_slot(now, minutes, slot):
    got = rules.interval_slot(now, minutes)
    assert got == slot and got.utcoffset() == timedelta(0)


def test_interval_slot_same_slot_until_the_next_boundary():
    t = datetime(2026, 11, 23, 2, 15, tzinfo=UTC)
    assert (
        rules.interval_slot(t - US, 15)
        != rules.interval_slot(t, 15)
        == rules.interval_slot(t + timedelta(minutes=14), 15)
    )


def test_daily_slot_is_lab_midnight_as_utc():
    lab_2359 = datetime(2026, 11, 23, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    lab_0000 = datetime(2026, 11, 24, 0, 0, tzinfo=SHANGHAI)
    assert rules.daily_slot(lab_2359, SHANGHAI) == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert rules.daily_slot(lab_0000, SHANGHAI) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert rules.daily_slot(lab_0000, SHANGHAI).utcoffset() == timedelta(0)
    # given in UTC: 15:59 UTC is 23:59 in the lab, 16:00 UTC already the next lab day
    assert rules.daily_slot(datetime(2026, 11, 23, 15, 59, tzinfo=UTC), SHANGHAI) == datetime(
        2026, 11, 22, 16, 0, tzinfo=UTC
    )
    assert rules.daily_slot(datetime(2026, 11, 23, 16, 0, tzinfo=UTC), SHANGHAI) == datetime(
        2026, 11, 23, 16, 0, tzinfo=UTC
    )
    # the whole lab day is one slot
    assert rules.daily_slot(datetime(2026, 11, 24, 0, 5, tzinfo=SHANGHAI), SHANGHAI) == rules.daily_slot(
        lab_0000, SHANGHAI
    )


# --- donors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "until, due",
    [
        (TODAY + timedelta(days=8), False),
        (TODAY + timedelta(days=7), True),
        (TODAY + timedelta(days=1), True),
        (TODAY, True),
        (TODAY - timedelta(days=1), False),  # already over: the daily job expires it, not a warning
        (None, False),
    ],
)
def test_rescreen_due(until, due):
    assert rules.rescreen_due(until, TODAY) is due


@pytest.mark.parametrize(
    "until, over",
    [(TODAY, False), (TODAY - timedelta(days=1), True), (TODAY + timedelta(days=1), False), (None, False)],
)
def test_eligibility_over(until, over):
    assert rules.eligibility_over(until, TODAY) is over


# --- retained samples -----------------------------------------------------------------------------------------


def test_retained_due_from_the_day_after_keep_until():
    keep = date(2027, 5, 23)
    assert not rules.retained_due(keep, keep - timedelta(days=1))
    assert not rules.retained_due(keep, keep)
    assert rules.retained_due(keep, keep + timedelta(days=1))


@pytest.mark.parametrize(
    "disposed_on, today, method, problem",
    [
        (date(2027, 5, 23), date(2027, 5, 24), "autoclaved", "too_early"),  # on the keep-until day
        (date(2027, 5, 22), date(2027, 5, 24), "autoclaved", "too_early"),
        (date(2027, 5, 24), date(2027, 5, 24), "autoclaved", None),  # the next day
        (date(2027, 5, 25), date(2027, 5, 24), "autoclaved", "date_future"),
        (date(2027, 5, 23), date(2027, 5, 23), "autoclaved", "too_early"),
        (None, date(2027, 5, 24), "autoclaved", "date_missing"),
        (date(2027, 5, 24), date(2027, 5, 24), "", "method_missing"),
        (date(2027, 5, 24), date(2027, 5, 24), "   ", "method_missing"),
        (date(2027, 5, 24), date(2027, 5, 24), None, "method_missing"),
    ],
)
def test_disposal_problem(disposed_on, today, method, problem):
    assert rules.disposal_problem(date(2027, 5, 23), disposed_on, today, method) == problem


# --- SAE report clocks -----------------------------------------------------------------------------------------

DUE = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "now, state",
    [
        (DUE - timedelta(hours=24) - US, None),
        (DUE - timedelta(hours=24), "soon"),
        (DUE - US, "soon"),
        (DUE, "soon"),  # due exactly: not missed yet
        (DUE + US, "missed"),
        (DUE + timedelta(days=3), "missed"),
    ],
)
def test_report_state(now, state):
    assert rules.report_state(DUE, None, now) == state


def test_reported_or_not_required_has_no_state():
    assert rules.report_state(DUE, DUE - timedelta(hours=1), DUE + timedelta(days=1)) is None
    assert rules.report_state(DUE, DUE + timedelta(hours=1), DUE + timedelta(days=1)) is None  # late, but sent
    assert rules.report_state(None, None, DUE) is None
