"""The eligibility engine (lims.donors.rules) at its boundaries: pure, no database.

Dates are fixed (no clock). ``AS_OF`` is the donation / decision date.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from lims.donors import rules
from lims.donors.rules import (
    DonorFacts,
    ItemSpec,
    ProtocolSpec,
    Reason,
    Result,
    age_on,
    birthday,
    bmi,
    decide,
    latest_results,
    valid_through,
    value_problem,
)

AS_OF = date(2026, 11, 23)
DAY = timedelta(days=1)
DEFAULT_FILE = Path(rules.__file__).with_name("default_protocol.json")


def days(n: int) -> timedelta:
    return timedelta(days=n)


# --- helpers ---------------------------------------------------------------------------


def _dec(value):
    return None if value is None else D(str(value))


def load_default_spec(path: Path = DEFAULT_FILE) -> ProtocolSpec:
    """The seeded default protocol as a rule spec, read straight from the JSON (no database)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return ProtocolSpec(
        code=data["code"],
        version=data["protocol_version"],
        age_min=data["age_min"],
        age_max=data["age_max"],
        bmi_min=_dec(data["bmi_min"]),
        bmi_max=_dec(data["bmi_max"]),
        bmi_validity_days=data["bmi_validity_days"],
        bmi_defer_days=data["bmi_defer_days"],
        rescreen_days=data["rescreen_days"],
        items=tuple(
            ItemSpec(
                code=i["code"],
                name=i["name"],
                kind=i["kind"],
                result_type=i["result_type"],
                validity_days=i["validity_days"],
                on_fail=i["on_fail"],
                defer_days=i.get("defer_days"),
                normal_min=_dec(i.get("normal_min")),
                normal_max=_dec(i.get("normal_max")),
                unit=i.get("unit", ""),
                lookback_days=i.get("lookback_days"),
            )
            for i in data["items"]
            if i["kind"] != "donation_day"
        ),
    )


DEFAULT = load_default_spec()

SMALL = ProtocolSpec(
    code="TEST",
    version=3,
    age_min=18,
    age_max=30,
    bmi_min=D("18.5"),
    bmi_max=D("23.9"),
    bmi_validity_days=90,
    bmi_defer_days=90,
    rescreen_days=60,
    items=(
        ItemSpec("S_MDRO", "MDRO screen", "stool", "qualitative", 28, "defer", 180),
        ItemSpec("Q_HIST", "GI history", "questionnaire", "yes_no", 28, "exclude"),
        ItemSpec("B_WBC", "White cells", "blood", "numeric", 28, "defer", 28, D("3.5"), D("9.5"), "10^9/L"),
        ItemSpec("A_SDS", "SDS", "assessment", "numeric", 90, "defer", 90, None, D("49"), "score"),
    ),
)
GOOD = {"S_MDRO": "negative", "Q_HIST": "no", "B_WBC": "6.1", "A_SDS": "40"}
DOB_20 = date(2006, 5, 10)  # 20 on AS_OF; turns 31 on 2037-05-10


def donor(dob=DOB_20, height="170", weight="62", measured_on=AS_OF - days(10)) -> DonorFacts:
    return DonorFacts(dob, D(height), D(weight), measured_on)  # 62 kg / 1.70 m: BMI 21.45


def panel(sampled=AS_OF - days(3), protocol=SMALL, skip=(), **values) -> list[Result]:
    """A result for every item of ``protocol``: normal unless overridden by code=value."""
    out = []
    for spec in protocol.items:
        if spec.code in skip:
            continue
        out.append(Result(spec.code, values.get(spec.code, _normal(spec)), sampled))
    return out


def _normal(spec: ItemSpec) -> str:
    if spec.code in GOOD:
        return GOOD[spec.code]
    if spec.result_type == "yes_no":
        return "no"
    if spec.result_type == "qualitative":
        return "negative"
    low = spec.normal_min if spec.normal_min is not None else D(0)
    return str((low + spec.normal_max) / 2)


def by_rule(decision):
    return {r.rule: r for r in decision.reasons}


def item_reason(decision, code):
    return by_rule(decision)[f"item:{code}"]


# --- age --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dob, age, outcome",
    [
        (date(2008, 11, 24), 17, "deferred"),  # 18th birthday is tomorrow
        (date(2008, 11, 23), 18, "eligible"),  # 18th birthday today
        (date(1995, 11, 24), 30, "eligible"),  # 31st birthday tomorrow
        (date(1995, 11, 23), 31, "excluded"),  # 31st birthday today
    ],
)
def test_age_boundaries_on_the_as_of_date(dob, age, outcome):
    assert age_on(dob, AS_OF) == age
    d = decide(SMALL, donor(dob=dob), panel(), AS_OF)
    assert d.outcome == outcome


def test_age_17_the_day_before_the_18th_birthday_defers_through_that_day():
    """ "Deferred until" is the last deferred day: the 18th birthday is the first eligible day."""
    d = decide(SMALL, donor(dob=date(2008, 11, 24)), panel(), AS_OF)
    assert d.outcome == "deferred" and d.until == date(2026, 11, 23) == AS_OF
    assert d.reasons == (Reason("age", "deferred", "too_young", {"age": 17, "min": 18, "until": date(2026, 11, 23)}),)
    assert d.missing == ()


def test_age_17_a_year_before_defers_until_the_day_before_the_18th_birthday():
    d = decide(SMALL, donor(dob=date(2009, 3, 1)), panel(), AS_OF)
    assert d.outcome == "deferred" and d.until == date(2027, 2, 28)


def test_age_31_on_the_31st_birthday_is_excluded_permanently():
    d = decide(SMALL, donor(dob=date(1995, 11, 23)), panel(), AS_OF)
    assert d.outcome == "excluded" and d.until is None
    assert d.reasons == (Reason("age", "excluded", "too_old", {"age": 31, "max": 30}),)


def test_age_30_the_day_before_the_31st_birthday_is_eligible_for_that_day_only():
    d = decide(SMALL, donor(dob=date(1995, 11, 24)), panel(), AS_OF)
    assert d.outcome == "eligible" and d.until == AS_OF
    assert d.reasons == (Reason("age", "limits", "age_limit", {"max": 30, "until": AS_OF}),)


def test_age_18_on_the_birthday_is_eligible():
    d = decide(SMALL, donor(dob=date(2008, 11, 23)), panel(), AS_OF)
    assert d.outcome == "eligible" and "age" not in by_rule(d)


def test_29_february_birthday_counts_from_1_march_in_common_years():
    dob = date(2008, 2, 29)
    assert age_on(dob, date(2026, 2, 28)) == 17
    assert age_on(dob, date(2026, 3, 1)) == 18
    assert birthday(dob, 18) == date(2026, 3, 1)
    assert birthday(dob, 24) == date(2032, 2, 29)  # a leap year keeps 29 February
    assert age_on(dob, date(2032, 2, 28)) == 23 and age_on(dob, date(2032, 2, 29)) == 24


def test_29_february_birthday_too_young_on_28_february_defers_through_that_day():
    dob, day = date(2008, 2, 29), date(2026, 2, 28)
    d = decide(SMALL, donor(dob=dob, measured_on=day), panel(sampled=day), day)
    assert d.outcome == "deferred" and d.until == date(2026, 2, 28)
    assert by_rule(d)["age"].code == "too_young"


def test_29_february_birthday_is_18_on_1_march():
    dob, day = date(2008, 2, 29), date(2026, 3, 1)
    d = decide(SMALL, donor(dob=dob, measured_on=day), panel(sampled=day), day)
    assert d.outcome == "eligible"


def test_29_february_birthday_age_limit_ends_on_28_february_of_the_31st_year():
    dob = date(1996, 2, 29)  # turns 31 on 1 March 2027 (2027 is a common year)
    last = date(2027, 2, 28)
    d = decide(SMALL, donor(dob=dob, measured_on=last), panel(sampled=last), last)
    assert d.outcome == "eligible" and d.until == last
    assert d.reasons == (Reason("age", "limits", "age_limit", {"max": 30, "until": last}),)
    after = last + DAY
    d = decide(SMALL, donor(dob=dob, measured_on=after), panel(sampled=after), after)
    assert d.outcome == "excluded" and by_rule(d)["age"].code == "too_old"


# --- BMI --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weight, value, outcome",
    [
        ("73.96", D("18.49"), "deferred"),
        ("74.0", D("18.5"), "eligible"),
        ("95.6", D("23.9"), "eligible"),
        ("95.64", D("23.91"), "deferred"),
    ],
)
def test_bmi_boundaries_at_2_metres(weight, value, outcome):
    assert bmi(D("200"), D(weight)) == value
    d = decide(SMALL, donor(height="200", weight=weight), panel(), AS_OF)
    assert d.outcome == outcome


def test_bmi_out_of_range_defers_until_measured_on_plus_bmi_defer_days():
    measured = AS_OF - days(10)
    d = decide(SMALL, donor(height="200", weight="95.64", measured_on=measured), panel(), AS_OF)
    assert d.outcome == "deferred" and d.until == measured + days(90)
    assert d.reasons == (
        Reason(
            "bmi",
            "deferred",
            "bmi_out_of_range",
            {"bmi": D("23.91"), "min": D("18.5"), "max": D("23.9"), "until": measured + days(90)},
        ),
    )


def test_bmi_is_compared_unrounded_even_when_it_would_round_into_range():
    value = bmi(D("170"), D("69.1"))  # 23.9100...: shown as 23.9 with one decimal
    assert value.quantize(D("0.1")) == D("23.9") and value > D("23.9")
    d = decide(SMALL, donor(height="170", weight="69.1"), panel(), AS_OF)
    assert d.outcome == "deferred" and by_rule(d)["bmi"].params["bmi"] == D("23.91")


def test_bmi_low_boundary_just_below_defers():
    d = decide(SMALL, donor(height="200", weight="73.99"), panel(), AS_OF)  # 18.4975
    assert d.outcome == "deferred" and by_rule(d)["bmi"].code == "bmi_out_of_range"


def test_bmi_measurement_valid_through_measured_on_plus_validity_days():
    measured = AS_OF - days(90)
    d = decide(SMALL, donor(measured_on=measured), panel(), AS_OF)
    assert d.outcome == "eligible" and d.until == AS_OF
    assert d.reasons == (Reason("bmi", "limits", "bmi_valid", {"bmi": D("21.45"), "through": AS_OF}),)


def test_bmi_measurement_the_day_after_its_last_valid_day_counts_as_missing():
    measured = AS_OF - days(91)
    d = decide(SMALL, donor(measured_on=measured), panel(), AS_OF)
    assert d.outcome == "incomplete" and d.until is None
    assert d.missing == ("BMI",)
    assert d.reasons == (Reason("bmi", "missing", "bmi_expired", {"date": measured, "through": AS_OF - DAY}),)


def test_bmi_measured_after_the_as_of_date_counts_as_missing():
    d = decide(SMALL, donor(measured_on=AS_OF + DAY), panel(), AS_OF)
    assert d.outcome == "incomplete" and d.missing == ("BMI",)
    assert by_rule(d)["bmi"].code == "future_measurement"


def test_expired_bmi_out_of_range_is_missing_not_deferred():
    d = decide(SMALL, donor(weight="90", measured_on=AS_OF - days(91)), panel(), AS_OF)
    assert d.outcome == "incomplete" and d.missing == ("BMI",)


# --- result validity ---------------------------------------------------------------------


def test_result_is_valid_through_sample_date_plus_validity_days():
    sampled = AS_OF - days(28)
    assert valid_through(sampled, 28) == AS_OF
    results = panel(skip=("B_WBC",)) + [Result("B_WBC", "6.0", sampled)]
    d = decide(SMALL, donor(), results, AS_OF)
    assert d.outcome == "eligible" and d.until == AS_OF
    assert [r.rule for r in d.reasons] == ["item:B_WBC"]


def test_result_the_day_after_its_last_valid_day_is_missing_as_expired():
    sampled = AS_OF - days(29)
    results = panel(skip=("B_WBC",)) + [Result("B_WBC", "6.0", sampled)]
    d = decide(SMALL, donor(), results, AS_OF)
    assert d.outcome == "incomplete" and d.until is None
    assert d.missing == ("B_WBC",)
    assert d.reasons == (
        Reason(
            "item:B_WBC",
            "missing",
            "expired",
            {"item": "White cells", "value": "6.0", "unit": "10^9/L", "sample_date": sampled, "through": AS_OF - DAY},
        ),
    )


def test_default_protocol_stool_result_expires_after_60_days():
    last_valid = decide(DEFAULT, donor(measured_on=AS_OF), panel(AS_OF - days(60), DEFAULT), AS_OF)
    assert last_valid.outcome == "eligible" and last_valid.until == AS_OF
    expired = decide(DEFAULT, donor(measured_on=AS_OF), panel(AS_OF - days(61), DEFAULT), AS_OF)
    assert expired.outcome == "incomplete"
    assert set(expired.missing) == {i.code for i in DEFAULT.items if i.validity_days == 60}
    assert {r.code for r in expired.reasons} == {"expired"}


# --- positive results: deferral and exclusion ----------------------------------------------


def test_positive_mdro_defers_until_sample_date_plus_defer_days():
    sampled = AS_OF - days(3)
    d = decide(DEFAULT, donor(), panel(sampled, DEFAULT, S_ESBL="positive"), AS_OF)
    assert d.outcome == "deferred" and d.until == sampled + days(180)
    assert d.missing == ()
    assert d.reasons == (
        Reason(
            "item:S_ESBL",
            "deferred",
            "item_defers",
            {
                "item": "MDRO: ESBL-producing Enterobacterales",
                "value": "positive",
                "unit": "",
                "sample_date": sampled,
                "until": sampled + days(180),
            },
        ),
    )


def test_positive_mdro_on_the_last_day_of_its_deferral_still_defers():
    sampled = AS_OF - days(180)
    results = panel(AS_OF, DEFAULT, skip=("S_ESBL",)) + [Result("S_ESBL", "positive", sampled)]
    d = decide(DEFAULT, donor(), results, AS_OF)
    assert d.outcome == "deferred" and d.until == AS_OF
    assert item_reason(d, "S_ESBL").code == "item_defers"


def test_positive_mdro_the_day_after_its_deferral_is_over_needs_a_new_result():
    sampled = AS_OF - days(181)
    results = panel(AS_OF, DEFAULT, skip=("S_ESBL",)) + [Result("S_ESBL", "positive", sampled)]
    d = decide(DEFAULT, donor(), results, AS_OF)
    assert d.outcome == "incomplete" and d.until is None
    assert d.missing == ("S_ESBL",)
    assert d.reasons == (
        Reason(
            "item:S_ESBL",
            "missing",
            "deferral_over",
            {
                "item": "MDRO: ESBL-producing Enterobacterales",
                "value": "positive",
                "unit": "",
                "sample_date": sampled,
                "until": AS_OF - DAY,
            },
        ),
    )


def test_yes_to_a_deferring_question_defers_for_its_defer_days():
    d = decide(DEFAULT, donor(), panel(AS_OF - days(3), DEFAULT, Q_DRUGS_3M="yes"), AS_OF)
    assert d.outcome == "deferred" and d.until == AS_OF - days(3) + days(90)
    assert [r.rule for r in d.reasons] == ["item:Q_DRUGS_3M"]


def test_yes_to_gi_history_excludes_permanently():
    sampled = AS_OF - days(3)
    d = decide(DEFAULT, donor(), panel(sampled, DEFAULT, Q_GI_HISTORY="yes"), AS_OF)
    assert d.outcome == "excluded" and d.until is None
    assert d.reasons == (
        Reason(
            "item:Q_GI_HISTORY",
            "excluded",
            "item_excludes",
            {
                "item": "History of IBD, IBS, chronic constipation, gastrointestinal cancer or polyposis",
                "value": "yes",
                "unit": "",
                "sample_date": sampled,
            },
        ),
    )


def test_an_excluding_result_excludes_however_old_it_is():
    results = panel(AS_OF, DEFAULT, skip=("B_HIV",)) + [Result("B_HIV", "positive", AS_OF - days(400))]
    d = decide(DEFAULT, donor(), results, AS_OF)
    assert d.outcome == "excluded" and d.until is None
    assert [r.rule for r in d.reasons] == ["item:B_HIV"]


@pytest.mark.parametrize("code", ["B_HBV", "B_HCV", "B_HIV", "B_SYPHILIS", "B_HTLV"])
def test_positive_blood_borne_virus_or_syphilis_excludes(code):
    d = decide(DEFAULT, donor(), panel(AS_OF, DEFAULT, **{code: "Positive"}), AS_OF)
    assert d.outcome == "excluded" and item_reason(d, code).code == "item_excludes"


# --- incomplete panels and values that do not count ------------------------------------------


def test_one_missing_item_makes_the_decision_incomplete_listing_exactly_that_item():
    d = decide(DEFAULT, donor(), panel(AS_OF, DEFAULT, skip=("S_CRE",)), AS_OF)
    assert d.outcome == "incomplete" and d.until is None
    assert d.missing == ("S_CRE",)
    assert d.reasons == (
        Reason("item:S_CRE", "missing", "no_result", {"item": "MDRO: carbapenem-resistant Enterobacterales (CRE)"}),
    )


def test_missing_items_are_listed_in_protocol_order():
    d = decide(DEFAULT, donor(), panel(AS_OF, DEFAULT, skip=("S_MRSA", "A_SDS", "B_HIV")), AS_OF)
    assert d.outcome == "incomplete" and d.missing == ("A_SDS", "B_HIV", "S_MRSA")


def test_no_results_at_all_lists_every_item():
    d = decide(SMALL, donor(), [], AS_OF)
    assert d.outcome == "incomplete" and d.missing == ("S_MDRO", "Q_HIST", "B_WBC", "A_SDS")


def test_unverified_result_counts_as_missing():
    results = panel(skip=("B_WBC",)) + [Result("B_WBC", "6.0", AS_OF - days(3), verified=False)]
    d = decide(SMALL, donor(), results, AS_OF)
    assert d.outcome == "incomplete" and d.missing == ("B_WBC",)
    assert item_reason(d, "B_WBC").code == "not_verified"


def test_unverified_positive_neither_defers_nor_excludes():
    results = panel(skip=("Q_HIST",)) + [Result("Q_HIST", "yes", AS_OF - days(3), verified=False)]
    d = decide(SMALL, donor(), results, AS_OF)
    assert d.outcome == "incomplete" and item_reason(d, "Q_HIST").code == "not_verified"


def test_indeterminate_qualitative_result_counts_as_missing():
    d = decide(SMALL, donor(), panel(S_MDRO="Indeterminate"), AS_OF)
    assert d.outcome == "incomplete" and d.missing == ("S_MDRO",)
    assert item_reason(d, "S_MDRO").code == "indeterminate"


@pytest.mark.parametrize(
    "code, value", [("S_MDRO", "maybe"), ("B_WBC", "abc"), ("Q_HIST", "perhaps"), ("B_WBC", ""), ("B_WBC", "NaN")]
)
def test_invalid_value_counts_as_missing(code, value):
    d = decide(SMALL, donor(), panel(**{code: value}), AS_OF)
    assert d.outcome == "incomplete" and d.missing == (code,)
    assert item_reason(d, code).code == "invalid_value" and item_reason(d, code).params["value"] == value


def test_results_sampled_after_the_as_of_date_are_ignored():
    results = panel(skip=("S_MDRO",)) + [Result("S_MDRO", "positive", AS_OF + DAY)]
    d = decide(SMALL, donor(), results, AS_OF)
    assert d.outcome == "incomplete" and d.missing == ("S_MDRO",)
    assert item_reason(d, "S_MDRO").code == "no_result"


def test_a_later_positive_after_the_as_of_date_does_not_hide_the_earlier_negative():
    d = decide(SMALL, donor(), panel() + [Result("S_MDRO", "positive", AS_OF + DAY)], AS_OF)
    assert d.outcome == "eligible"


def test_latest_result_per_item_wins():
    old, new = AS_OF - days(40), AS_OF - days(2)
    results = panel(skip=("B_WBC",)) + [Result("B_WBC", "6.0", old), Result("B_WBC", "6.2", new)]
    d = decide(SMALL, donor(), results, AS_OF)
    assert d.outcome == "eligible"  # the expired older result is superseded
    results = panel(skip=("S_MDRO",)) + [Result("S_MDRO", "positive", new), Result("S_MDRO", "negative", old)]
    d = decide(SMALL, donor(), results, AS_OF)
    assert d.outcome == "deferred" and d.until == new + days(180)


def test_latest_results_prefers_the_later_entry_on_the_same_day():
    day = AS_OF - days(2)
    first, second = Result("S_MDRO", "negative", day), Result("S_MDRO", "positive", day)
    assert latest_results([first, second]) == {"S_MDRO": second}
    d = decide(SMALL, donor(), panel(skip=("S_MDRO",)) + [first, second], AS_OF)
    assert d.outcome == "deferred"


# --- numeric normal ranges -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, outcome",
    [
        ("3.49", "deferred"),
        ("3.5", "eligible"),
        ("9.5", "eligible"),
        ("9.50", "eligible"),
        ("9.51", "deferred"),
        (" 9.5 ", "eligible"),
    ],
)
def test_numeric_range_boundaries_are_inclusive(value, outcome):
    d = decide(SMALL, donor(), panel(B_WBC=value), AS_OF)
    assert d.outcome == outcome


def test_numeric_out_of_range_defers_for_its_defer_days():
    sampled = AS_OF - days(3)
    d = decide(SMALL, donor(), panel(B_WBC="9.51"), AS_OF)
    assert d.until == sampled + days(28)
    assert d.reasons == (
        Reason(
            "item:B_WBC",
            "deferred",
            "item_defers",
            {
                "item": "White cells",
                "value": "9.51",
                "unit": "10^9/L",
                "sample_date": sampled,
                "until": sampled + days(28),
            },
        ),
    )


@pytest.mark.parametrize("value, outcome", [("0", "eligible"), ("49", "eligible"), ("49.01", "deferred")])
def test_numeric_with_only_an_upper_limit(value, outcome):
    assert decide(SMALL, donor(), panel(A_SDS=value), AS_OF).outcome == outcome


@pytest.mark.parametrize(
    "code, value, outcome",
    [
        ("A_PSQI", "7", "eligible"),
        ("A_PSQI", "8", "deferred"),
        ("B_CRP", "0", "eligible"),
        ("B_CRP", "10", "eligible"),
        ("B_CRP", "10.1", "deferred"),
        ("B_HB", "115", "eligible"),
        ("B_HB", "114.9", "deferred"),
        ("B_K", "5.3", "eligible"),
        ("B_K", "5.31", "deferred"),
    ],
)
def test_default_protocol_numeric_boundaries(code, value, outcome):
    assert decide(DEFAULT, donor(), panel(AS_OF, DEFAULT, **{code: value}), AS_OF).outcome == outcome


# --- outcome precedence: excluded > deferred > incomplete > eligible ---------------------------


def test_excluded_beats_deferred_and_lists_both_reasons():
    d = decide(SMALL, donor(), panel(Q_HIST="yes", S_MDRO="positive"), AS_OF)
    assert d.outcome == "excluded" and d.until is None
    assert [(r.rule, r.effect) for r in d.reasons] == [("item:S_MDRO", "deferred"), ("item:Q_HIST", "excluded")]


def test_excluded_beats_incomplete_and_still_lists_the_missing_items():
    d = decide(SMALL, donor(), panel(skip=("B_WBC",), Q_HIST="yes"), AS_OF)
    assert d.outcome == "excluded" and d.missing == ("B_WBC",)
    assert {(r.rule, r.effect) for r in d.reasons} == {("item:Q_HIST", "excluded"), ("item:B_WBC", "missing")}


def test_deferred_beats_incomplete_and_lists_both():
    sampled = AS_OF - days(3)
    d = decide(SMALL, donor(), panel(skip=("A_SDS",), S_MDRO="positive"), AS_OF)
    assert d.outcome == "deferred" and d.until == sampled + days(180)
    assert d.missing == ("A_SDS",)
    assert [(r.rule, r.effect) for r in d.reasons] == [("item:S_MDRO", "deferred"), ("item:A_SDS", "missing")]


def test_deferred_until_is_the_latest_of_all_deferrals_and_every_rule_is_listed():
    measured = AS_OF - days(10)
    sampled = AS_OF - days(3)
    dob = date(2009, 1, 15)  # 17: deferred until 2027-01-14 (< sample + 180)
    d = decide(SMALL, donor(dob=dob, weight="80", measured_on=measured), panel(S_MDRO="positive", B_WBC="12"), AS_OF)
    assert d.outcome == "deferred" and d.until == sampled + days(180)
    assert [r.rule for r in d.reasons] == ["age", "bmi", "item:S_MDRO", "item:B_WBC"]
    assert {r.params["until"] for r in d.reasons} == {
        date(2027, 1, 14),
        measured + days(90),
        sampled + days(180),
        sampled + days(28),
    }


def test_too_old_and_excluding_answer_are_both_listed():
    d = decide(SMALL, donor(dob=date(1990, 1, 1)), panel(Q_HIST="yes"), AS_OF)
    assert d.outcome == "excluded"
    assert [(r.rule, r.code) for r in d.reasons] == [("age", "too_old"), ("item:Q_HIST", "item_excludes")]


def test_too_young_and_incomplete_is_deferred():
    d = decide(SMALL, donor(dob=date(2010, 1, 1)), [], AS_OF)
    assert d.outcome == "deferred" and d.until == date(2027, 12, 31)
    assert d.missing == ("S_MDRO", "Q_HIST", "B_WBC", "A_SDS")


def test_incomplete_shows_only_missing_reasons_not_limits():
    d = decide(SMALL, donor(), panel(skip=("Q_HIST",)), AS_OF)
    assert d.outcome == "incomplete"
    assert {r.effect for r in d.reasons} == {"missing"}


def test_decision_records_the_date_and_protocol_version():
    d = decide(SMALL, donor(), panel(), AS_OF)
    assert d.checked_on == AS_OF and d.protocol == "TEST v3"
    assert decide(DEFAULT, donor(), [], AS_OF).protocol == "CN-WMT v1"


# --- eligible until: the earliest limit ------------------------------------------------------


def test_eligible_until_limited_by_a_result():
    sampled = AS_OF - days(20)
    results = panel(skip=("B_WBC",)) + [Result("B_WBC", "6.0", sampled)]
    d = decide(SMALL, donor(), results, AS_OF)
    assert d.outcome == "eligible" and d.until == sampled + days(28)
    assert d.reasons == (
        Reason(
            "item:B_WBC",
            "limits",
            "valid_until",
            {
                "item": "White cells",
                "value": "6.0",
                "unit": "10^9/L",
                "sample_date": sampled,
                "through": sampled + days(28),
            },
        ),
    )
    assert d.missing == ()


def test_eligible_until_limited_by_the_bmi_measurement():
    measured = AS_OF - days(85)
    d = decide(SMALL, donor(measured_on=measured), panel(AS_OF), AS_OF)
    assert d.outcome == "eligible" and d.until == measured + days(90)
    assert d.reasons == (Reason("bmi", "limits", "bmi_valid", {"bmi": D("21.45"), "through": measured + days(90)}),)


def test_eligible_until_limited_by_the_rescreen_interval():
    protocol = replace(SMALL, rescreen_days=10)
    d = decide(protocol, donor(measured_on=AS_OF), panel(AS_OF), AS_OF)
    assert d.outcome == "eligible" and d.until == AS_OF + days(10)
    assert d.reasons == (Reason("rescreen", "limits", "rescreen_due", {"days": 10, "until": AS_OF + days(10)}),)


def test_eligible_until_limited_by_the_age_maximum():
    dob = date(1995, 11, 28)  # 30 now; 31 on 2026-11-28
    d = decide(SMALL, donor(dob=dob), panel(), AS_OF)
    assert d.outcome == "eligible" and d.until == date(2026, 11, 27)
    assert d.reasons == (Reason("age", "limits", "age_limit", {"max": 30, "until": date(2026, 11, 27)}),)


def test_eligible_lists_every_limit_that_ties_for_earliest():
    d = decide(SMALL, donor(), panel(), AS_OF)
    sampled = AS_OF - days(3)
    assert d.outcome == "eligible" and d.until == sampled + days(28)
    assert [r.rule for r in d.reasons] == ["item:S_MDRO", "item:Q_HIST", "item:B_WBC"]  # A_SDS: 90 days
    assert {r.effect for r in d.reasons} == {"limits"}


# --- value_problem ---------------------------------------------------------------------------

QUAL = SMALL.items[0]
YN = SMALL.items[1]
NUM = SMALL.items[2]


@pytest.mark.parametrize(
    "spec, value",
    [
        (QUAL, "Negative"),
        (QUAL, " positive "),
        (QUAL, "NEGATIVE"),
        (QUAL, "indeterminate"),
        (YN, "Yes"),
        (YN, " no "),
        (NUM, "4.2"),
        (NUM, " 10 "),
        (NUM, "-1"),
        (NUM, "9,5"),
    ],
)
def test_value_problem_accepts_known_values(spec, value):
    assert value_problem(spec, value) is None


@pytest.mark.parametrize(
    "spec, value, code",
    [
        (QUAL, "maybe", "not_qualitative"),
        (QUAL, "", "not_qualitative"),
        (QUAL, None, "not_qualitative"),
        (QUAL, "pos", "not_qualitative"),
        (QUAL, "yes", "not_qualitative"),
        (YN, "y", "not_yes_no"),
        (YN, "negative", "not_yes_no"),
        (YN, "", "not_yes_no"),
        (NUM, "abc", "not_numeric"),
        (NUM, "", "not_numeric"),
        (NUM, "NaN", "not_numeric"),
        (NUM, "Infinity", "not_numeric"),
        (NUM, "positive", "not_numeric"),
    ],
)
def test_value_problem_rejects_unknown_values_with_a_code(spec, value, code):
    assert value_problem(spec, value) == code


def test_decide_reads_values_case_insensitively():
    d = decide(SMALL, donor(), panel(S_MDRO=" Positive "), AS_OF)
    assert d.outcome == "deferred" and item_reason(d, "S_MDRO").code == "item_defers"
    assert decide(SMALL, donor(), panel(S_MDRO="NEGATIVE", Q_HIST="No"), AS_OF).outcome == "eligible"


# --- the default protocol --------------------------------------------------------------------


def test_default_protocol_loads_with_the_consensus_defaults():
    assert (DEFAULT.code, DEFAULT.version, DEFAULT.age_min, DEFAULT.age_max) == ("CN-WMT", 1, 18, 30)
    assert (DEFAULT.bmi_min, DEFAULT.bmi_max) == (D("18.5"), D("23.9"))
    assert DEFAULT.rescreen_days == 60
    codes = [i.code for i in DEFAULT.items]
    assert len(codes) == len(set(codes)) == 49
    for i in DEFAULT.items:
        assert i.result_type in ("qualitative", "numeric", "yes_no") and i.on_fail in ("defer", "exclude")
        assert i.on_fail == "exclude" or i.defer_days, i.code
        assert i.result_type != "numeric" or i.normal_max is not None, i.code
    assert {i.code: i.defer_days for i in DEFAULT.items if i.code in ("S_ESBL", "S_CRE", "S_VRE", "S_MRSA")} == {
        "S_ESBL": 180,
        "S_CRE": 180,
        "S_VRE": 180,
        "S_MRSA": 180,
    }


def test_full_default_panel_normal_for_a_20_year_old_is_eligible():
    facts = DonorFacts(date(2006, 6, 15), D("175"), D("65.8"), AS_OF)  # BMI 21.49
    assert D("21.4") < bmi(facts.height_cm, facts.weight_kg) < D("21.5")
    d = decide(DEFAULT, facts, panel(AS_OF, DEFAULT), AS_OF)
    assert d.outcome == "eligible" and d.missing == ()
    # Samples of today: the 60-day results and the 60-day re-screening end eligibility together.
    assert d.until == AS_OF + days(60)
    assert [r.rule for r in d.reasons] == [f"item:{i.code}" for i in DEFAULT.items if i.validity_days == 60] + [
        "rescreen"
    ]


def test_full_default_panel_sampled_earlier_ends_at_the_oldest_sample_plus_60_days():
    facts = DonorFacts(date(2006, 6, 15), D("175"), D("65.8"), AS_OF)
    d = decide(DEFAULT, facts, panel(AS_OF - days(10), DEFAULT), AS_OF)
    assert d.outcome == "eligible" and d.until == AS_OF + days(50)


def test_a_later_negative_does_not_lift_a_permanent_exclusion():
    results = panel(AS_OF, DEFAULT, skip=("B_HIV",)) + [
        Result("B_HIV", "positive", AS_OF - days(10)),
        Result("B_HIV", "negative", AS_OF - days(2)),
    ]
    d = decide(DEFAULT, donor(), results, AS_OF)
    assert d.outcome == "excluded" and by_rule(d)["item:B_HIV"].params["sample_date"] == AS_OF - days(10)


def test_a_later_negative_does_not_shorten_a_running_deferral():
    results = panel(AS_OF, DEFAULT, skip=("S_ESBL",)) + [
        Result("S_ESBL", "positive", AS_OF - days(30)),
        Result("S_ESBL", "negative", AS_OF - days(1)),
    ]
    d = decide(DEFAULT, donor(), results, AS_OF)
    assert d.outcome == "deferred" and d.until == AS_OF - days(30) + days(180)


def test_an_unverified_positive_does_not_block_but_a_verified_one_does():
    results = panel(AS_OF, DEFAULT, skip=("S_ESBL",)) + [Result("S_ESBL", "positive", AS_OF, verified=False)]
    assert decide(DEFAULT, donor(), results, AS_OF).outcome == "incomplete"


def test_a_bmi_deferral_never_ends_before_the_as_of_date():
    protocol = replace(SMALL, bmi_defer_days=30)
    d = decide(protocol, donor(weight="80", measured_on=AS_OF - days(40)), panel(), AS_OF)
    assert d.outcome == "incomplete" and by_rule(d)["bmi"].code == "bmi_deferral_over"
    on_last_day = decide(protocol, donor(weight="80", measured_on=AS_OF - days(30)), panel(), AS_OF)
    assert on_last_day.outcome == "deferred" and on_last_day.until == AS_OF
