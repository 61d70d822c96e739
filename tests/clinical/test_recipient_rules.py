"""Recipient rules at their boundaries."""

from datetime import date

import pytest

from lims.clinical.rules import recipient_problems

TODAY = date(2026, 11, 23)
GOOD = {
    "sex": "male",
    "date_of_birth": date(1944, 1, 1),
    "diagnosis": "Sigmoid colon adenocarcinoma",
    "stage": "IV",
    "tnm": "T3N1M1",
    "ecog": 3,
    "prior_lines": 7,
    "consent_date": date(2019, 4, 8),
}


def codes(**changes):
    return [c for c, _p in recipient_problems({**GOOD, **changes}, TODAY)]


def test_the_reference_patient_is_valid():
    assert codes() == []


@pytest.mark.parametrize("ecog, ok", [(-1, False), (0, True), (5, True), (6, False), (None, False), ("3", False)])
def test_ecog_is_0_to_5(ecog, ok):
    assert ("ecog" not in codes(ecog=ecog)) is ok


@pytest.mark.parametrize("lines, ok", [(-1, False), (0, True), (30, True), (31, False)])
def test_prior_lines(lines, ok):
    assert ("prior_lines" not in codes(prior_lines=lines)) is ok


def test_consent_today_is_fine_tomorrow_is_future():
    assert codes(consent_date=TODAY) == []
    assert codes(consent_date=date(2026, 11, 24)) == ["consent_future"]


def test_consent_on_the_first_fmt_day_is_fine_the_day_after_is_refused():
    first = date(2019, 4, 15)
    assert recipient_problems({**GOOD, "consent_date": first}, TODAY, first_fmt=first) == []
    assert [c for c, _ in recipient_problems({**GOOD, "consent_date": date(2019, 4, 16)}, TODAY, first_fmt=first)] == [
        "consent_after_fmt"
    ]


def test_consent_on_the_18th_birthday_is_adult_the_day_before_is_not():
    assert codes(date_of_birth=date(2001, 4, 8)) == []
    assert codes(date_of_birth=date(2001, 4, 9)) == ["consent_minor"]


@pytest.mark.parametrize(
    "tnm, ok",
    [("", True), ("T3N1M1", True), ("pT4aN2bM1c", True), ("TXN0M0", True), ("T5N1M1", False), ("stage four", False)],
)
def test_tnm_format(tnm, ok):
    assert ("tnm" not in codes(tnm=tnm)) is ok


def test_every_problem_is_listed_not_just_the_first():
    assert codes(sex="x", stage="V", ecog=9, diagnosis=" ", date_of_birth=date(2030, 1, 1)) == [
        "sex",
        "dob_future",
        "diagnosis_missing",
        "stage",
        "ecog",
    ]
