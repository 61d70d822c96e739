"""Effective unit and batch status, release past expiry and the release basis per storage (issue 16, items 2-3).

Pure rules at their boundaries: the instant a unit expires, the last second of the thaw window, a hold,
and which signed decision clears a fresh or a frozen product.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lims.manufacturing import rules as r
from lims.manufacturing.rules import PassedScreening, ReleaseFacts

EXPIRES = datetime(2027, 5, 23, 16, 0, tzinfo=UTC)  # 2027-05-24 00:00 in Shanghai
THAWED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize("stored", ["quarantine", "available", "reserved", "issued"])
def test_a_live_unit_is_expired_from_its_expiry_instant(stored):
    assert r.effective_unit_status(stored, EXPIRES - SECOND, EXPIRES, None, 6) == (stored, None)
    code, why = r.effective_unit_status(stored, EXPIRES, EXPIRES, None, 6)
    assert code == "expired" and why == ("expired", {"at": EXPIRES})


def test_the_sixth_hour_after_thawing_is_usable_and_a_second_later_is_not():
    at_six = THAWED + timedelta(hours=6)
    assert r.effective_unit_status("issued", at_six, EXPIRES, THAWED, 6) == ("issued", None)
    code, why = r.effective_unit_status("issued", at_six + SECOND, EXPIRES, THAWED, 6)
    assert code == "expired" and why[0] == "thaw_window" and why[1]["at"] == at_six


@pytest.mark.parametrize("stored", ["administered", "discarded", "recalled", "expired"])
def test_final_statuses_are_what_they_say(stored):
    assert r.effective_unit_status(stored, EXPIRES + timedelta(days=9), EXPIRES, THAWED, 6, ("LB-2026-0001",)) == (
        stored,
        None,
    )


def test_a_hold_shows_on_hold_and_expiry_wins_over_it():
    assert r.effective_unit_status("quarantine", EXPIRES - SECOND, EXPIRES, None, 6, ("LB-2026-0001",)) == (
        "on_hold",
        ("held", {"cases": "LB-2026-0001"}),
    )
    assert r.effective_unit_status("quarantine", EXPIRES, EXPIRES, None, 6, ("LB-2026-0001",))[0] == "expired"


def test_a_batch_is_expired_from_the_expiry_of_its_units():
    assert r.effective_batch_status("released", EXPIRES - SECOND, EXPIRES) == ("released", None)
    assert r.effective_batch_status("released", EXPIRES, EXPIRES) == ("expired", ("batch_expired", {"at": EXPIRES}))
    assert r.effective_batch_status("quarantine", EXPIRES, EXPIRES)[0] == "expired"
    assert r.effective_batch_status("in_process", EXPIRES, None) == ("in_process", None)  # not filled yet
    assert r.effective_batch_status("recalled", EXPIRES, EXPIRES) == ("recalled", None)
    assert r.effective_batch_status("quarantine", EXPIRES - SECOND, EXPIRES, ("LB-1",))[0] == "on_hold"


# --- release past expiry ---------------------------------------------------------------------------

GOOD = ReleaseFacts(
    status="quarantine",
    donor_cleared=True,
    donor_code="D-0001",
    donation_day=date(2026, 11, 23),
    review_by_user=True,
    review_current=True,
    expires_at=EXPIRES,
)


def _facts(**changes):
    return ReleaseFacts(**{**GOOD.__dict__, **changes})


def test_release_one_second_before_expiry_and_not_at_it():
    assert r.release_blockers(_facts(now=EXPIRES - SECOND)) == []
    assert r.release_blockers(_facts(now=EXPIRES)) == [r.Blocker("batch_expired", {"at": EXPIRES})]


def test_a_suspended_donor_blocks_release_with_the_cause():
    assert r.release_blockers(_facts(now=EXPIRES - SECOND, donor_suspended="ESBL positive")) == [
        r.Blocker("donor_suspended", {"donor": "D-0001", "reason": "ESBL positive"})
    ]


def test_the_clearance_problem_names_the_basis_that_failed():
    assert r.release_blockers(_facts(now=EXPIRES - SECOND, donor_cleared=False, clearance_problem="no_day_check")) == [
        r.Blocker("no_day_check", {"donor": "D-0001", "day": date(2026, 11, 23)})
    ]


# --- release basis ----------------------------------------------------------------------------------

DAY = date(2026, 11, 23)


def _decision(i, as_of, first_sample, until, outcome="eligible"):
    return PassedScreening(i, as_of, first_sample, until, outcome)


def test_fresh_basis_takes_the_decision_in_force_on_the_donation_day():
    d = _decision(1, date(2026, 11, 12), date(2026, 11, 10), until=DAY)  # eligible through the donation day itself
    assert r.clearance("eligible_at_donation", [d], DAY, True) == (d, None)
    ended = _decision(1, date(2026, 11, 12), date(2026, 11, 10), until=DAY - timedelta(days=1))
    assert r.clearance("eligible_at_donation", [ended], DAY, True) == (None, "donor_not_eligible_at_donation")


def test_fresh_basis_needs_that_day_s_passed_donation_day_check():
    d = _decision(1, date(2026, 11, 12), date(2026, 11, 10), until=date(2027, 1, 9))
    assert r.clearance("eligible_at_donation", [d], DAY, False) == (None, "no_day_check")


def test_fresh_basis_a_later_deferral_before_the_donation_is_in_force():
    eligible = _decision(1, date(2026, 11, 1), date(2026, 10, 30), until=date(2026, 12, 30))
    deferred = _decision(2, date(2026, 11, 20), date(2026, 11, 19), until=date(2026, 12, 4), outcome="deferred")
    assert r.clearance("eligible_at_donation", [eligible, deferred], DAY, True) == (
        None,
        "donor_not_eligible_at_donation",
    )
    later = _decision(
        3, DAY + timedelta(days=1), DAY, until=date(2027, 1, 20)
    )  # decided after the donation: not in force
    assert r.clearance("eligible_at_donation", [later], DAY, True) == (None, "donor_not_eligible_at_donation")
    on_the_day = _decision(4, DAY, date(2026, 11, 21), until=date(2027, 1, 20))
    assert r.clearance("eligible_at_donation", [eligible, deferred, on_the_day], DAY, True) == (on_the_day, None)


def test_frozen_basis_waits_for_a_screening_sampled_after_the_donation():
    before = _decision(1, date(2026, 11, 12), date(2026, 11, 10), until=date(2027, 1, 9))
    assert r.clearance("screening_after_donation", [before], DAY, True) == (None, "donor_not_cleared")
    after = _decision(2, date(2026, 11, 25), DAY + timedelta(days=1), until=date(2027, 1, 20))
    assert r.clearance("screening_after_donation", [before, after], DAY, True) == (after, None)
    deferred_after = _decision(3, date(2026, 11, 25), DAY + timedelta(days=1), until=None, outcome="deferred")
    assert r.clearance("screening_after_donation", [deferred_after], DAY, True) == (None, "donor_not_cleared")
