"""The lookback scope rule at its boundaries."""

from datetime import UTC, date, datetime, timedelta

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
    assert last_negative_before([date(2026, 11, 20), date(2026, 11, 1), date(2026, 10, 1)], FINDING) == date(
        2026, 11, 1
    )
    assert last_negative_before([date(2026, 11, 21)], FINDING) is None
    assert last_negative_before([], FINDING) is None


def test_three_calendar_days_to_complete_the_review():
    opened = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert not overdue(opened, opened + timedelta(days=3))
    assert overdue(opened, opened + timedelta(days=3, microseconds=1))


# --- every donation of the donor, in scope or excluded, and why (issue 16 item 6) ------------------

from lims.lookback.rules import DonationFacts, classify  # noqa: E402

NEG = date(2026, 11, 10)


def _d(i, day, status="processing", has_batch=True):
    return DonationFacts(i, day, status, has_batch)


def _why(decisions):
    return [(x.donation_id, x.in_scope, x.reason) for x in decisions]


def test_the_day_of_the_last_negative_screening_sample_is_in_scope_and_the_day_before_is_excluded():
    s = scope(FINDING, last_negative=NEG)
    got = classify(s, [_d(1, NEG - timedelta(days=1)), _d(2, NEG), _d(3, NEG + timedelta(days=1))])
    assert _why(got) == [(1, False, "before_negative"), (2, True, "same_day_as_negative"), (3, True, "after_negative")]
    assert got[0].params == {"date": NEG} and got[1].params == {"date": NEG} and got[2].params == {"date": NEG}


def test_no_negative_screening_at_all_puts_every_donation_in_scope():
    s = scope(FINDING, last_negative=None)
    got = classify(s, [_d(1, date(2020, 1, 1)), _d(2, FINDING), _d(3, FINDING + timedelta(days=3), "received", False)])
    assert _why(got) == [(1, True, "no_negative"), (2, True, "no_negative"), (3, True, "no_negative")]


def test_the_window_start_day_is_in_scope_and_the_day_before_is_excluded_naming_both_dates():
    s = scope(FINDING, last_negative=date(2026, 9, 1), window_days=28)
    got = classify(s, [_d(1, date(2026, 10, 22)), _d(2, date(2026, 10, 23))])
    assert _why(got) == [(1, False, "before_window"), (2, True, "in_window")]
    assert got[0].params == {"date": date(2026, 10, 23), "negative": date(2026, 9, 1)}


def test_a_rejected_donation_without_a_batch_is_excluded_but_an_unprocessed_one_is_in_scope():
    s = scope(FINDING, last_negative=NEG)
    got = classify(s, [_d(1, NEG, "rejected", False), _d(2, NEG, "received", False)])
    assert _why(got) == [(1, False, "no_batch"), (2, True, "same_day_as_negative")]


def test_a_case_for_one_batch_excludes_the_donors_other_donations():
    s = scope(FINDING, last_negative=None)
    got = classify(s, [_d(1, NEG), _d(2, NEG + timedelta(days=1))], named_donation_id=2)
    assert _why(got) == [(1, False, "other_batch"), (2, True, "named_batch")]


def test_a_donation_added_by_qa_is_in_scope_with_the_signed_reason_whatever_excluded_it():
    s = scope(FINDING, last_negative=NEG)
    donations = [_d(1, NEG - timedelta(days=30)), _d(2, NEG, "rejected", False), _d(3, NEG)]
    got = classify(s, donations, added={1: "same stool bank lot", 2: "re-test its retained sample"})
    assert _why(got) == [(1, True, "added"), (2, True, "added"), (3, True, "same_day_as_negative")]
    assert got[0].params == {"reason": "same stool bank lot"}
    got = classify(s, donations, named_donation_id=3, added={1: "x"})
    assert _why(got) == [(1, True, "added"), (2, False, "other_batch"), (3, True, "named_batch")]
