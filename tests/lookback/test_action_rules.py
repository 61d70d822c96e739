"""The pure rules of acting on a case: what a held unit becomes when the case is unfounded, and when a case may close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims.lookback.rules import close_problems, unit_after_unfounded

NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=180)


@pytest.mark.parametrize("prior", ["available", "reserved"])
def test_a_stored_unit_goes_back_to_stock(prior):
    assert unit_after_unfounded(prior, NOW, LATER, None, 6) == "available"


def test_an_issued_unit_stays_recalled_even_if_unexpired():
    assert unit_after_unfounded("issued", NOW, LATER, None, 6) == "recalled"


def test_expiry_boundary_is_the_stored_instant():
    assert unit_after_unfounded("available", NOW, NOW + timedelta(seconds=1), None, 6) == "available"
    assert unit_after_unfounded("available", NOW, NOW, None, 6) == "expired"


def test_thaw_window_boundary_sixth_hour_in_then_out():
    assert unit_after_unfounded("reserved", NOW, LATER, NOW - timedelta(hours=6), 6) == "available"
    assert unit_after_unfounded("reserved", NOW, LATER, NOW - timedelta(hours=6, minutes=1), 6) == "expired"


def test_close_needs_an_outcome_and_a_conclusion():
    assert [c for c, _p in close_problems(None, " ", [], 0)] == ["outcome", "conclusion"]
    assert close_problems("unfounded", "negative re-tests", [], 0) == []


def test_close_lists_the_recipients_not_yet_informed():
    assert close_problems("confirmed", "x", ["P-0001", "P-0002"], 0) == [("uninformed", {"items": "P-0001, P-0002"})]


def test_a_confirmed_case_must_hold_first_an_unfounded_one_need_not():
    assert close_problems("confirmed", "x", [], 3) == [("not_held", {"n": 3})]
    assert close_problems("unfounded", "x", [], 3) == []
