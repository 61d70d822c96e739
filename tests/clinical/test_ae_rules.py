"""Adverse-event rules at their boundaries: the record, SAE clocks (ICH E2A), worst-grade summary.

Pure functions only: no database, no Flask app.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from lims.clinical.ae_rules import AeFacts, Deadlines, SaeLimits, ae_problems, sae_deadlines, worst_grades
from lims.ctcae.catalogue import default

UTC = UTC
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
AWARE = datetime(2026, 11, 23, 3, 15, 30, tzinfo=UTC)
LIMITS = SaeLimits()
NAUSEA = "10028813"


# --- SAE deadlines ----------------------------------------------------------------------------------


def test_default_limits_are_24_h_7_days_15_days():
    assert (LIMITS.ethics_hours, LIMITS.fatal_days, LIMITS.other_days) == (24, 7, 15)


@pytest.mark.parametrize("expected, related", [(False, True), (True, True), (None, False)])
def test_not_serious_has_no_deadlines(expected, related):
    assert sae_deadlines((), expected, related, AWARE, LIMITS) == Deadlines(None, None, None)


@pytest.mark.parametrize("criteria", [("hospitalisation",), ("death",), ("life_threatening", "hospitalisation")])
def test_serious_expected_goes_to_ethics_only(criteria):
    assert sae_deadlines(criteria, True, True, AWARE, LIMITS) == Deadlines(
        datetime(2026, 11, 24, 3, 15, 30, tzinfo=UTC), None, None
    )


@pytest.mark.parametrize(
    "criteria",
    [("death",), ("life_threatening",), ("hospitalisation", "life_threatening"), ("death", "important_medical_event")],
)
def test_susar_fatal_or_life_threatening_is_due_in_7_days(criteria):
    assert sae_deadlines(criteria, False, True, AWARE, LIMITS) == Deadlines(
        datetime(2026, 11, 24, 3, 15, 30, tzinfo=UTC), datetime(2026, 11, 30, 3, 15, 30, tzinfo=UTC), 7
    )


@pytest.mark.parametrize(
    "criteria", [("hospitalisation",), ("disability",), ("congenital_anomaly",), ("important_medical_event",)]
)
def test_other_susar_is_due_in_15_days(criteria):
    assert sae_deadlines(criteria, False, True, AWARE, LIMITS) == Deadlines(
        datetime(2026, 11, 24, 3, 15, 30, tzinfo=UTC), datetime(2026, 12, 8, 3, 15, 30, tzinfo=UTC), 15
    )


def test_unexpected_but_unrelated_has_no_regulatory_report():
    assert sae_deadlines(("death",), False, False, AWARE, LIMITS) == Deadlines(
        datetime(2026, 11, 24, 3, 15, 30, tzinfo=UTC), None, None
    )


def test_expectedness_unknown_has_no_regulatory_report():
    assert sae_deadlines(("life_threatening",), None, True, AWARE, LIMITS) == Deadlines(
        datetime(2026, 11, 24, 3, 15, 30, tzinfo=UTC), None, None
    )


def test_custom_limits_are_honoured():
    limits = SaeLimits(ethics_hours=48, fatal_days=5, other_days=10)
    assert sae_deadlines(("death",), False, True, AWARE, limits) == Deadlines(
        datetime(2026, 11, 25, 3, 15, 30, tzinfo=UTC), datetime(2026, 11, 28, 3, 15, 30, tzinfo=UTC), 5
    )
    assert sae_deadlines(("hospitalisation",), False, True, AWARE, limits) == Deadlines(
        datetime(2026, 11, 25, 3, 15, 30, tzinfo=UTC), datetime(2026, 12, 3, 3, 15, 30, tzinfo=UTC), 10
    )
    assert sae_deadlines(("hospitalisation",), True, True, AWARE, limits) == Deadlines(
        datetime(2026, 11, 25, 3, 15, 30, tzinfo=UTC), None, None
    )


def test_deadlines_keep_the_time_zone():
    d = sae_deadlines(("death",), False, True, AWARE, LIMITS)
    assert d.ethics.tzinfo is UTC and d.regulatory.tzinfo is UTC


# --- the record -------------------------------------------------------------------------------------

GOOD = AeFacts(
    term_code=NAUSEA,
    grade=2,
    onset=TODAY - timedelta(days=1),
    resolved=None,
    criteria=(),
    expected=None,
    attribution_fmt="possible",
    attribution_cotherapy="unrelated",
    action="none",
    outcome="recovering",
    administration_given_on=TODAY - timedelta(days=2),
    has_administration=True,
    aware_at=NOW - timedelta(hours=1),
    today=TODAY,
    now=NOW,
)


def no_grade_problem(code, grade):
    return None


def check(grade_problem=no_grade_problem, **changes):
    return ae_problems(replace(GOOD, **changes), grade_problem)


def test_a_good_record_passes():
    assert check() == []


def test_a_good_record_passes_with_the_real_catalogue():
    assert check(default().grade_problem) == []


def test_grade_not_defined_from_the_callable():
    calls = []

    def fake(code, grade):
        calls.append((code, grade))
        return "grade_not_defined" if grade > 3 else None

    assert check(fake, grade=4) == [("grade_not_defined", {"grade": 4})]
    assert check(fake, grade=3) == []
    assert calls == [(NAUSEA, 4), (NAUSEA, 3)]


def test_unknown_term_from_the_callable():
    def fake(code, grade):
        return "unknown_term"

    assert check(fake, term_code="99999999") == [("unknown_term", {"grade": 2})]


def test_real_catalogue_nausea_grade_4_is_not_defined_grade_3_is():
    cat = default().grade_problem
    assert check(cat, term_code=NAUSEA, grade=4) == [("grade_not_defined", {"grade": 4})]
    assert check(cat, term_code=NAUSEA, grade=3) == []


def test_real_catalogue_unknown_term():
    assert check(default().grade_problem, term_code="99999999") == [("unknown_term", {"grade": 2})]


def test_term_missing_skips_the_grade_check():
    def boom(code, grade):
        raise AssertionError("grade check called without a term")

    assert check(boom, term_code="") == [("term_missing", {})]


def test_grade_missing():
    assert check(grade=None) == [("grade_missing", {})]


def test_onset_today_is_fine_tomorrow_is_future():
    tomorrow = TODAY + timedelta(days=1)
    assert check(onset=TODAY) == []
    assert check(onset=tomorrow) == [("onset_future", {"date": tomorrow})]


def test_onset_missing():
    assert check(onset=None) == [("onset_missing", {})]


def test_resolved_before_onset():
    onset = TODAY - timedelta(days=1)
    resolved = TODAY - timedelta(days=2)
    assert check(onset=onset, resolved=resolved, outcome="recovered") == [
        ("resolved_before_onset", {"date": resolved, "onset": onset})
    ]


def test_resolved_on_the_onset_day_is_fine():
    assert check(resolved=GOOD.onset, outcome="recovered") == []


def test_resolved_in_the_future():
    tomorrow = TODAY + timedelta(days=1)
    assert check(resolved=tomorrow, outcome="recovered") == [("resolved_future", {"date": tomorrow})]


@pytest.mark.parametrize("outcome", ["recovering", "not_recovered", "unknown"])
def test_resolved_date_without_a_resolved_outcome(outcome):
    assert check(resolved=TODAY, outcome=outcome) == [("resolved_outcome", {})]


@pytest.mark.parametrize("outcome", ["recovered", "recovered_sequelae"])
def test_resolved_outcome_without_a_date(outcome):
    assert check(outcome=outcome) == [("outcome_needs_date", {})]
    assert check(outcome=outcome, resolved=TODAY) == []


def test_serious_without_expectedness():
    assert check(criteria=("hospitalisation",)) == [("expectedness", {})]
    assert check(criteria=("hospitalisation",), expected=False) == []
    assert check(criteria=("hospitalisation",), expected=True) == []


def test_unknown_seriousness_criterion():
    assert check(criteria=("hospitalization",), expected=True) == [("criteria", {})]


@pytest.mark.parametrize("attribution", ["possible", "probable", "definite"])
def test_fmt_related_needs_an_administration(attribution):
    assert check(attribution_fmt=attribution, has_administration=False, administration_given_on=None) == [
        ("needs_administration", {})
    ]


@pytest.mark.parametrize("attribution", ["unrelated", "unlikely"])
def test_fmt_unrelated_or_unlikely_needs_no_administration(attribution):
    assert check(attribution_fmt=attribution, has_administration=False, administration_given_on=None) == []


@pytest.mark.parametrize("field", ["attribution_fmt", "attribution_cotherapy"])
def test_unknown_attribution(field):
    assert check(**{field: "maybe"}) == [("attribution", {})]


def test_linked_administration_not_given():
    assert check(administration_given_on=None) == [("administration_not_given", {})]


def test_onset_before_the_linked_dose_day():
    given = TODAY - timedelta(days=1)
    assert check(onset=TODAY - timedelta(days=2), administration_given_on=given) == [
        ("onset_before_dose", {"date": given})
    ]


def test_onset_on_the_dose_day_is_fine():
    assert check(onset=GOOD.administration_given_on) == []


def test_unknown_action_and_outcome():
    assert check(action="prayer") == [("action", {})]
    assert check(outcome="gone") == [("outcome", {})]


FATAL = {"grade": 5, "outcome": "fatal", "criteria": ("death",), "expected": False, "resolved": TODAY}


def test_a_consistent_fatal_event_passes():
    assert check(**FATAL) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"outcome": "not_recovered", "resolved": None},
        {"criteria": ("hospitalisation",)},
        {"grade": 3},
        {"grade": 4, "criteria": ("life_threatening",)},
    ],
)
def test_fatal_consistency(changes):
    assert check(**{**FATAL, **changes}) == [("fatal_consistency", {})]


def test_grade_5_needs_outcome_fatal_and_criterion_death():
    assert check(grade=5) == [("fatal_consistency", {})]


def test_outcome_fatal_with_grade_3_is_refused():
    assert check(grade=3, outcome="fatal", resolved=TODAY, criteria=("death",), expected=False) == [
        ("fatal_consistency", {})
    ]


def test_real_catalogue_refuses_grade_5_for_nausea():
    assert check(default().grade_problem, term_code=NAUSEA, **FATAL) == [("grade_not_defined", {"grade": 5})]


def test_aware_at_in_the_future():
    assert check(aware_at=NOW + timedelta(microseconds=1)) == [("aware_future", {})]
    assert check(aware_at=NOW) == []
    assert check(aware_at=None) == []


# --- worst grades -----------------------------------------------------------------------------------


def test_worst_grade_counts_a_recipient_once_under_the_worst_grade():
    rows = [("P-0001", "Fever", 1), ("P-0001", "Fever", 2)]
    assert worst_grades(rows) == {"Fever": {2: 1}}


def test_worst_grade_order_does_not_matter():
    rows = [("P-0001", "Fever", 2), ("P-0001", "Fever", 1)]
    assert worst_grades(rows) == {"Fever": {2: 1}}


def test_worst_grade_two_recipients_are_counted_separately():
    rows = [("P-0001", "Fever", 1), ("P-0002", "Fever", 1), ("P-0001", "Fever", 2)]
    assert worst_grades(rows) == {"Fever": {2: 1, 1: 1}}


def test_worst_grade_tables_per_term():
    rows = [
        ("P-0001", "Fever", 1),
        ("P-0001", "Diarrhea", 3),
        ("P-0002", "Diarrhea", 3),
        ("P-0002", "Fever", 2),
        ("P-0003", "Nausea", 1),
        ("P-0002", "Diarrhea", 1),
    ]
    assert worst_grades(rows) == {"Fever": {1: 1, 2: 1}, "Diarrhea": {3: 2}, "Nausea": {1: 1}}


def test_worst_grade_of_nothing():
    assert worst_grades([]) == {}


def test_the_site_cannot_become_aware_before_the_onset():
    from dataclasses import replace as _replace

    base = GOOD
    assert ae_problems(_replace(base, aware_on=base.onset), lambda c, g: None) == []
    assert ae_problems(_replace(base, aware_on=base.onset - timedelta(days=1)), lambda c, g: None) == [
        ("aware_before_onset", {"onset": base.onset})
    ]
