"""The lookback scope rule at its boundaries."""
from datetime import date, datetime, timedelta, timezone

from lims.lookback.rules import in_scope, last_negative_before, overdue, scope

FINDING = date(2026, 11, 20)


def test_donations_before_the_last_negative_screening_are_excluded():
    s = scope(FINDING, last_negative=date(2026, 11, 10))
    assert (s.start, s.basis) == (date(2026, 11, 10), "negative_screening")
    assert not in_scope(s, date(2026, 11, 9))
    assert in_scope(s, date(2026, 11, 10))  # a sample that day does not clear the stool given that day
    assert in_scope(s, date(2026, 11, 19))


def test_the_window_boundary_day_is_in_and_the_day_before_is_out():
    s = scope(FINDING, last_negative=date(2026, 9, 1), window_days=28)
    assert (s.start, s.basis) == (date(2026, 10, 23), "window")
    assert in_scope(s, date(2026, 10, 23))
    assert not in_scope(s, date(2026, 10, 22))


def test_the_later_of_negative_screening_and_window_wins_at_equality():
    s = scope(FINDING, last_negative=date(2026, 10, 23), window_days=28)
    assert (s.start, s.basis) == (date(2026, 10, 23), "negative_screening")


def test_a_donor_with_no_prior_negative_screening_has_every_donation_in_scope():
    s = scope(FINDING, last_negative=None)
    assert (s.start, s.basis) == (None, "no_negative")
    assert in_scope(s, date(2020, 1, 1))


def test_a_configured_window():
    assert scope(FINDING, date(2026, 1, 1), window_days=56).start == FINDING - timedelta(days=56)


def test_the_negative_screening_must_be_before_the_finding():
    assert last_negative_before([date(2026, 11, 20), date(2026, 11, 1), date(2026, 10, 1)], FINDING) == date(2026, 11, 1)
    assert last_negative_before([date(2026, 11, 21)], FINDING) is None
    assert last_negative_before([], FINDING) is None


def test_three_calendar_days_to_complete_the_review():
    opened = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    assert not overdue(opened, opened + timedelta(days=3))
    assert overdue(opened, opened + timedelta(days=3, microseconds=1))
