"""Boundary tests of the pure manufacturing rules (no app, no database, no clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from lims.manufacturing import rules as r
from lims.manufacturing.rules import (
    BATCH_STATUSES,
    BATCH_TRANSITIONS,
    Blocker,
    PassedScreening,
    PlannedStep,
    ProcessLimits,
    QcItemSpec,
    QcJudgement,
    ReleaseFacts,
)

DEFAULT = ProcessLimits()
# Every number different from the default: proves the rules read the limits as data.
CUSTOM = ProcessLimits(
    min_mass_g=D(50),
    processing_limit_minutes=240,
    enrichment_limit_minutes=90,
    washes_required=4,
    filtration_stages_min=3,
    fresh_use_hours=4,
    frozen_expiry_months=12,
    thaw_use_hours=2,
    retained_keep_months=24,
    expiry_warning_days=3,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


# --- parse_quantity / format_quantity ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1.2e13", D("1.2e13")),
        ("1.2E+13", D("1.2e13")),
        ("1.2x10^13", D("1.2e13")),
        ("1.2 x 10^13", D("1.2e13")),
        ("1.2X10^13", D("1.2e13")),
        ("1.2*10^13", D("1.2e13")),
        ("1.2×10^13", D("1.2e13")),
        ("1.2 × 10^13", D("1.2e13")),
        ("1.2×10¹³", D("1.2e13")),
        ("2.0×10¹³", D("2e13")),
        ("1.2·10^13", D("1.2e13")),
        ("1.2x10^+13", D("1.2e13")),
        ("10^13", D("1e13")),
        ("10¹³", D("1e13")),
        ("１.２ｅ１３", D("1.2e13")),
        ("１０^１３", D("1e13")),
        ("1.2×10^１３", D("1.2e13")),
        ("1e-3", D("0.001")),
        ("10⁻³", D("0.001")),
        ("1.2 × 10⁻³", D("0.0012")),
        ("99.5 %", D("99.5")),
        ("99.5%", D("99.5")),
        ("99.5％", D("99.5")),
        ("  99.5  ", D("99.5")),
        ("99", D(99)),
        ("-5", D(-5)),
        ("+7.25", D("7.25")),
        (".5", D("0.5")),
    ],
)
def test_parse_quantity_accepts(text, expected):
    value = r.parse_quantity(text)
    assert isinstance(value, D)
    assert value == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "%",
        "abc",
        "1,2e13",
        "1,000",
        "1,200",
        "1.210^13",
        "x10^13",
        "1.2x10^",
        "1.2x10^1.5",
        "110^13",
        "1.10¹³",
        "1.2e13e2",
        "99.5%%",
        "inf",
        "-inf",
        "Infinity",
        "nan",
        "NaN",
        "snan",
        None,
        "1.2 × 10 ^ ",
        "1.2x1013x",
        "ten",
    ],
)
def test_parse_quantity_refuses(text):
    assert r.parse_quantity(text) is None


@pytest.mark.parametrize("text", ["1x10^1000000", "1.2x10^999999999999"])
def test_parse_quantity_huge_exponent_is_refused_not_raised(text):
    assert r.parse_quantity(text) is None


@pytest.mark.parametrize(
    "text, wrong, right",
    [
        ("１０¹³", D(1013), D("1e13")),
        ("10 ¹³", D(1013), D("1e13")),
        ("5²", D(52), D(25)),
    ],
)
def test_parse_quantity_superscript_never_silently_misread(text, wrong, right):
    assert r.parse_quantity(text) in (None, right)


@pytest.mark.parametrize(
    "value, text",
    [
        (D("1.2e13"), "1.2 × 10^13"),
        (D("12000000000000.0"), "1.2 × 10^13"),
        (D("1.20e13"), "1.2 × 10^13"),
        (D("5e12"), "5 × 10^12"),
        (D("-1.2e13"), "-1.2 × 10^13"),
        (D("1e6"), "1 × 10^6"),  # the threshold itself is scientific
        (D("999999"), "999999"),  # one below stays plain
        (D("12345678.9"), "1.23456789 × 10^7"),
        (D("99.5"), "99.5"),
        (D("99.0"), "99"),
        (D("1E+2"), "100"),
        (D("0.001"), "0.001"),
        (D("0"), "0"),
        (None, ""),
    ],
)
def test_format_quantity(value, text):
    assert r.format_quantity(value) == text


@pytest.mark.parametrize("text", ["1.2e13", "5e12", "2.01e13", "99.5", "0.001"])
def test_format_then_parse_round_trips(text):
    value = r.parse_quantity(text)
    assert r.parse_quantity(r.format_quantity(value)) == value


def test_format_quantity_huge_value_does_not_raise():
    assert r.format_quantity(D("1e1000000")) == "1 × 10^1000000"


# --- add_months / expiry dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 11, 23), 6, date(2027, 5, 23)),
        (date(2026, 11, 23), 2, date(2027, 1, 23)),  # year rollover
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
        (date(2026, 12, 15), 12, date(2027, 12, 15)),
        (date(2026, 7, 15), 6, date(2027, 1, 15)),  # exactly into January
        (date(2026, 6, 15), 6, date(2026, 12, 15)),  # exactly December, same year
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 5, 20), 0, date(2026, 5, 20)),
        (date(2026, 1, 31), -2, date(2025, 11, 30)),
        (date(2026, 11, 23), 30, date(2029, 5, 23)),
    ],
)
def test_add_months(day, months, expected):
    assert r.add_months(day, months) == expected


@pytest.mark.parametrize(
    "limits, donation, expected",
    [
        (DEFAULT, date(2026, 11, 23), date(2027, 5, 23)),
        (DEFAULT, date(2026, 8, 31), date(2027, 2, 28)),
        (CUSTOM, date(2026, 11, 23), date(2027, 11, 23)),
    ],
)
def test_frozen_expiry(limits, donation, expected):
    assert r.frozen_expiry(donation, limits) == expected


@pytest.mark.parametrize(
    "limits, donation, expected",
    [
        (DEFAULT, date(2026, 11, 23), date(2027, 5, 23)),
        (DEFAULT, date(2027, 8, 31), date(2028, 2, 29)),
        (CUSTOM, date(2026, 11, 23), date(2028, 11, 23)),
    ],
)
def test_retained_until(limits, donation, expected):
    assert r.retained_until(donation, limits) == expected


# --- receipt ---------------------------------------------------------------------------------


def _receipt(
    limits=DEFAULT,
    collected=NOW - timedelta(hours=1),
    received=NOW - timedelta(minutes=30),
    now=NOW,
    mass=D(150),
    bristol=4,
):
    return r.receipt_problems(limits, collected, received, now, mass, bristol)


def test_receipt_all_good():
    assert _receipt() == []


@pytest.mark.parametrize(
    "mass, problems",
    [
        (D(99), [("mass_below_min", {"mass": D(99), "min": D(100)})]),
        (D("99.9"), [("mass_below_min", {"mass": D("99.9"), "min": D(100)})]),
        (D("99.99"), [("mass_below_min", {"mass": D("99.99"), "min": D(100)})]),
        (D(100), []),
        (D("100.0"), []),
        (D("100.1"), []),
        (D(0), [("mass_below_min", {"mass": D(0), "min": D(100)})]),
    ],
)
def test_receipt_mass_default(mass, problems):
    assert _receipt(mass=mass) == problems


@pytest.mark.parametrize(
    "mass, problems",
    [
        (D("49.9"), [("mass_below_min", {"mass": D("49.9"), "min": D(50)})]),
        (D(50), []),
        (D(99), []),  # refused by default limits, accepted by these
    ],
)
def test_receipt_mass_custom_limits(mass, problems):
    assert _receipt(limits=CUSTOM, mass=mass) == problems


@pytest.mark.parametrize(
    "bristol, problems",
    [
        (0, [("bristol_range", {"value": 0})]),
        (1, []),
        (4, []),
        (7, []),
        (8, [("bristol_range", {"value": 8})]),
        (-1, [("bristol_range", {"value": -1})]),
    ],
)
def test_receipt_bristol(bristol, problems):
    assert _receipt(bristol=bristol) == problems


def test_receipt_received_before_collected():
    assert _receipt(collected=NOW - timedelta(hours=1), received=NOW - timedelta(hours=1) - SEC) == [
        ("received_before_collected", {})
    ]


def test_receipt_received_same_instant_as_collected():
    assert _receipt(collected=NOW - timedelta(hours=1), received=NOW - timedelta(hours=1)) == []


def test_receipt_times_equal_to_now_are_fine():
    assert _receipt(collected=NOW, received=NOW) == []


def test_receipt_received_in_future():
    assert _receipt(received=NOW + MIN) == [("received_in_future", {})]


def test_receipt_received_one_second_in_future():
    assert _receipt(received=NOW + SEC) == [("received_in_future", {})]


def test_receipt_collected_in_future():
    # collected one minute ahead of now, received now: both the clock and the order are wrong
    assert _receipt(collected=NOW + MIN, received=NOW) == [
        ("collected_in_future", {}),
        ("received_before_collected", {}),
    ]


def test_receipt_both_in_future():
    assert _receipt(collected=NOW + MIN, received=NOW + MIN) == [
        ("collected_in_future", {}),
        ("received_in_future", {}),
    ]


def test_receipt_every_problem_at_once_in_order():
    assert _receipt(collected=NOW + 2 * MIN, received=NOW + MIN, mass=D(10), bristol=9) == [
        ("collected_in_future", {}),
        ("received_in_future", {}),
        ("received_before_collected", {}),
        ("mass_below_min", {"mass": D(10), "min": D(100)}),
        ("bristol_range", {"value": 9}),
    ]


# --- processing start -------------------------------------------------------------------------

COLLECTED = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_processing_deadline():
    assert r.processing_deadline(COLLECTED, DEFAULT) == COLLECTED + timedelta(minutes=360)
    assert r.processing_deadline(COLLECTED, CUSTOM) == COLLECTED + timedelta(minutes=240)


@pytest.mark.parametrize(
    "offset, expected",
    [
        (timedelta(0), None),
        (timedelta(minutes=1), None),
        (timedelta(minutes=359), None),
        (timedelta(minutes=360), None),
        (timedelta(minutes=361), ("processing_too_late", {"minutes": 361, "limit": 360})),
        (timedelta(minutes=600), ("processing_too_late", {"minutes": 600, "limit": 360})),
        (-SEC, ("start_before_collection", {})),
        (-MIN, ("start_before_collection", {})),
    ],
)
def test_processing_start_default(offset, expected):
    assert r.processing_start_problem(COLLECTED, COLLECTED + offset, DEFAULT) == expected


@pytest.mark.parametrize(
    "offset, expected",
    [
        (timedelta(minutes=240), None),
        (timedelta(minutes=241), ("processing_too_late", {"minutes": 241, "limit": 240})),
        (timedelta(minutes=360), ("processing_too_late", {"minutes": 360, "limit": 240})),  # fine by default
    ],
)
def test_processing_start_custom_limit(offset, expected):
    assert r.processing_start_problem(COLLECTED, COLLECTED + offset, CUSTOM) == expected


def test_processing_start_one_second_late_is_refused():
    problem = r.processing_start_problem(COLLECTED, COLLECTED + timedelta(minutes=360, seconds=1), DEFAULT)
    assert problem is not None and problem[0] == "processing_too_late"


def test_processing_too_late_minutes_exceed_limit_when_refused():
    problem = r.processing_start_problem(COLLECTED, COLLECTED + timedelta(minutes=360, seconds=30), DEFAULT)
    assert problem == ("processing_too_late", {"minutes": 361, "limit": 360})


# --- enrichment ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "duration, minutes",
    [
        (timedelta(minutes=59), 59),
        (timedelta(minutes=59, seconds=59), 60),
        (timedelta(minutes=60), 60),
        (timedelta(minutes=60, seconds=1), 61),
        (timedelta(minutes=60, microseconds=1), 61),
        (timedelta(0), 0),
    ],
)
def test_enrichment_minutes(duration, minutes):
    assert r.enrichment_minutes(NOW, NOW + duration) == minutes


@pytest.mark.parametrize(
    "limits, minutes, over",
    [
        (DEFAULT, 59, False),
        (DEFAULT, 60, False),
        (DEFAULT, 61, True),
        (CUSTOM, 61, False),
        (CUSTOM, 90, False),
        (CUSTOM, 91, True),
    ],
)
def test_enrichment_over_limit(limits, minutes, over):
    assert r.enrichment_over_limit(minutes, limits) is over


@pytest.mark.parametrize(
    "duration, over",
    [
        (timedelta(minutes=59), False),
        (timedelta(minutes=60), False),
        (timedelta(minutes=60, seconds=1), True),
    ],
)
def test_enrichment_end_to_end(duration, over):
    assert r.enrichment_over_limit(r.enrichment_minutes(NOW, NOW + duration), DEFAULT) is over


# --- step plan -------------------------------------------------------------------------------


def test_step_plan_default():
    assert r.step_plan(DEFAULT) == [
        PlannedStep("homogenisation", 1, 1),
        PlannedStep("microfiltration", 1, 2),
        PlannedStep("wash", 1, 3),
        PlannedStep("wash", 2, 4),
        PlannedStep("wash", 3, 5),
        PlannedStep("resuspension", 1, 6),
        PlannedStep("fill", 1, 7),
    ]


def test_step_plan_four_washes():
    plan = r.step_plan(ProcessLimits(washes_required=4))
    assert len(plan) == 8
    assert [s.position for s in plan] == list(range(1, 9))
    assert [(s.kind, s.seq) for s in plan] == [
        ("homogenisation", 1),
        ("microfiltration", 1),
        ("wash", 1),
        ("wash", 2),
        ("wash", 3),
        ("wash", 4),
        ("resuspension", 1),
        ("fill", 1),
    ]


def test_step_plan_kinds_are_known():
    assert {s.kind for s in r.step_plan(CUSTOM)} == set(r.STEP_KINDS)


@pytest.mark.parametrize(
    "recorded, expected_position",
    [
        (set(), 1),
        ({1}, 2),
        ({1, 2}, 3),
        ({1, 2, 4}, 3),  # a gap: the earliest missing step comes next, order enforced
        ({2, 3, 4, 5, 6, 7}, 1),
        ({1, 2, 3, 4, 5, 6}, 7),
    ],
)
def test_next_planned(recorded, expected_position):
    plan = r.step_plan(DEFAULT)
    step = r.next_planned(plan, recorded)
    assert step == plan[expected_position - 1]
    assert step.position == expected_position


def test_next_planned_complete():
    plan = r.step_plan(DEFAULT)
    assert r.next_planned(plan, set(range(1, 8))) is None
    assert r.next_planned([], set()) is None


# --- mesh stages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2000, 500, 100 µm", [D(2000), D(500), D(100)]),
        ("2000μm/500μm", [D(2000), D(500)]),
        ("2000 > 500 > 100", [D(2000), D(500), D(100)]),
        ("2000um; 500um", [D(2000), D(500)]),
        ("2000 → 500", [D(2000), D(500)]),
        ("2000 500 100", [D(2000), D(500), D(100)]),
        ("2000", [D(2000)]),
        ("２０００，５００", [D(2000), D(500)]),  # full-width digits and comma
    ],
)
def test_parse_mesh_stages(text, expected):
    assert r.parse_mesh_stages(text) == expected


@pytest.mark.parametrize("text", ["", "   ", None, "abc", "2000, abc", "µm", "2000, 5e", ", ;"])
def test_parse_mesh_stages_unreadable(text):
    assert r.parse_mesh_stages(text) is None


# --- step parameters -------------------------------------------------------------------------

GOOD_PARAMS = {
    "homogenisation": {"diluent": "0.9% saline", "volume_ml": D(500)},
    "microfiltration": {"mesh_um": [D(2000), D(500), D(100)]},
    "wash": {"g_force": D(1100), "minutes": D(10), "temperature_c": D(4)},
    "resuspension": {
        "volume_ml": D(600),
        "diluent": "saline",
        "cryoprotectant_pct": D(10),
        "cryoprotectant": "glycerol",
    },
    "fill": {"dose_count": D(5), "unit_volume_ml": D(120), "storage": "frozen", "resuspension_volume_ml": D(600)},
}


def _params(kind, **changes):
    p = dict(GOOD_PARAMS[kind])
    p.update(changes)
    return p


@pytest.mark.parametrize("kind", sorted(GOOD_PARAMS))
def test_step_params_good(kind):
    assert r.step_param_problems(kind, GOOD_PARAMS[kind], DEFAULT) == []


@pytest.mark.parametrize(
    "changes, problems",
    [
        ({"diluent": ""}, [("required", {"field": "diluent"})]),
        ({"diluent": "   "}, [("required", {"field": "diluent"})]),
        ({"diluent": None}, [("required", {"field": "diluent"})]),
        ({"volume_ml": D(0)}, [("must_be_positive", {"field": "volume_ml"})]),
        ({"volume_ml": D(-1)}, [("must_be_positive", {"field": "volume_ml"})]),
        ({"volume_ml": None}, [("must_be_positive", {"field": "volume_ml"})]),
        ({"volume_ml": D("0.1")}, []),
    ],
)
def test_homogenisation_params(changes, problems):
    assert r.step_param_problems("homogenisation", _params("homogenisation", **changes), DEFAULT) == problems


@pytest.mark.parametrize(
    "stages, problems",
    [
        ([D(2000)], [("too_few_stages", {"n": 1, "min": 2})]),
        ([D(2000), D(500)], []),
        ([D(500), D(2000)], [("mesh_not_descending", {})]),
        ([D(500), D(500)], [("mesh_not_descending", {})]),
        ([D(2000), D(100), D(500)], [("mesh_not_descending", {})]),
        ([D(500), D(0)], [("mesh_positive", {})]),
        ([D(500), D(-1)], [("mesh_positive", {})]),
        ([D(0)], [("too_few_stages", {"n": 1, "min": 2}), ("mesh_positive", {})]),
        (None, [("mesh_unreadable", {})]),
        ([], [("mesh_unreadable", {})]),
    ],
)
def test_microfiltration_params(stages, problems):
    assert r.step_param_problems("microfiltration", {"mesh_um": stages}, DEFAULT) == problems


def test_microfiltration_unreadable_text():
    stages = r.parse_mesh_stages("coarse then fine")
    assert r.step_param_problems("microfiltration", {"mesh_um": stages}, DEFAULT) == [("mesh_unreadable", {})]


def test_microfiltration_missing_key():
    assert r.step_param_problems("microfiltration", {}, DEFAULT) == [("mesh_unreadable", {})]


@pytest.mark.parametrize(
    "stages, problems",
    [
        ([D(2000), D(500)], [("too_few_stages", {"n": 2, "min": 3})]),  # fine by default limits
        ([D(2000), D(500), D(100)], []),
    ],
)
def test_microfiltration_custom_min_stages(stages, problems):
    assert r.step_param_problems("microfiltration", {"mesh_um": stages}, CUSTOM) == problems


TEMP = ("temperature_range", {"min": -20, "max": 45})


@pytest.mark.parametrize(
    "changes, problems",
    [
        ({"temperature_c": D(45)}, []),
        ({"temperature_c": D("45.0")}, []),
        ({"temperature_c": D("45.01")}, [TEMP]),
        ({"temperature_c": D(46)}, [TEMP]),
        ({"temperature_c": D(-20)}, []),
        ({"temperature_c": D(-21)}, [TEMP]),
        ({"temperature_c": None}, [TEMP]),
        ({"g_force": D(0)}, [("must_be_positive", {"field": "g_force"})]),
        ({"g_force": None}, [("must_be_positive", {"field": "g_force"})]),
        ({"g_force": D("0.1")}, []),
        ({"minutes": D(0)}, [("must_be_positive", {"field": "minutes"})]),
        (
            {"g_force": D(0), "minutes": D(0), "temperature_c": D(46)},
            [("must_be_positive", {"field": "g_force"}), ("must_be_positive", {"field": "minutes"}), TEMP],
        ),
    ],
)
def test_wash_params(changes, problems):
    assert r.step_param_problems("wash", _params("wash", **changes), DEFAULT) == problems


CRYO = ("required", {"field": "cryoprotectant"})


@pytest.mark.parametrize(
    "changes, problems",
    [
        ({"cryoprotectant_pct": D(100)}, []),
        ({"cryoprotectant_pct": D(101)}, [("percent_range", {})]),
        ({"cryoprotectant_pct": D("100.1")}, [("percent_range", {})]),
        ({"cryoprotectant_pct": D(-1)}, [("percent_range", {})]),
        ({"cryoprotectant_pct": None}, [("percent_range", {})]),
        ({"cryoprotectant_pct": D(0), "cryoprotectant": ""}, []),
        ({"cryoprotectant_pct": D(0), "cryoprotectant": None}, []),
        ({"cryoprotectant_pct": D("0.1"), "cryoprotectant": ""}, [CRYO]),
        ({"cryoprotectant_pct": D(10), "cryoprotectant": "  "}, [CRYO]),
        ({"cryoprotectant_pct": D(10), "cryoprotectant": None}, [CRYO]),
        ({"diluent": ""}, [("required", {"field": "diluent"})]),
        ({"volume_ml": D(0)}, [("must_be_positive", {"field": "volume_ml"})]),
    ],
)
def test_resuspension_params(changes, problems):
    assert r.step_param_problems("resuspension", _params("resuspension", **changes), DEFAULT) == problems


def test_resuspension_params_without_cryoprotectant_keys():
    params = {"volume_ml": D(600), "diluent": "saline", "cryoprotectant_pct": D(0)}
    assert r.step_param_problems("resuspension", params, DEFAULT) == []


DOSES = ("dose_count_range", {"max": 99})


@pytest.mark.parametrize(
    "changes, problems",
    [
        ({"dose_count": D(0)}, [DOSES]),
        ({"dose_count": D(-1)}, [DOSES]),
        ({"dose_count": None}, [DOSES]),
        ({"dose_count": D(1)}, []),
        ({"dose_count": D(99), "resuspension_volume_ml": None}, []),
        ({"dose_count": D(100), "resuspension_volume_ml": None}, [DOSES]),
        ({"dose_count": D(100), "resuspension_volume_ml": D(100000)}, [DOSES]),
        ({"dose_count": D(5)}, []),  # 5 x 120 = 600 mL of 600 available: exactly enough
        ({"dose_count": D(6)}, [("fill_exceeds_volume", {"need": D(720), "have": D(600)})]),
        (
            {"dose_count": D(5), "resuspension_volume_ml": D("599.9")},
            [("fill_exceeds_volume", {"need": D(600), "have": D("599.9")})],
        ),
        ({"dose_count": D(6), "resuspension_volume_ml": None}, []),  # nothing to compare against
        ({"storage": "warm"}, [("storage_mode", {})]),
        ({"storage": None}, [("storage_mode", {})]),
        ({"storage": "Frozen"}, [("storage_mode", {})]),
        ({"storage": "fresh"}, []),
        ({"unit_volume_ml": D(0)}, [("must_be_positive", {"field": "unit_volume_ml"})]),
        ({"unit_volume_ml": None}, [("must_be_positive", {"field": "unit_volume_ml"})]),
    ],
)
def test_fill_params(changes, problems):
    assert r.step_param_problems("fill", _params("fill", **changes), DEFAULT) == problems


def test_fill_int_dose_count():
    assert r.step_param_problems("fill", _params("fill", dose_count=6), DEFAULT) == [
        ("fill_exceeds_volume", {"need": D(720), "have": D(600)})
    ]


def test_fill_fractional_dose_count_refused():
    assert r.step_param_problems("fill", _params("fill", dose_count=D("2.5")), DEFAULT) == [DOSES]


def test_unknown_step_kind_has_no_checks():
    assert r.step_param_problems("sterilisation", {}, DEFAULT) == []


# --- step times ------------------------------------------------------------------------------

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _times(start=T0, end=T0 + timedelta(minutes=30), previous_end=None, next_start=None, now=NOW):
    return r.step_time_problems(start, end, previous_end, next_start, now)


def test_step_times_good():
    assert _times(previous_end=T0 - MIN, next_start=T0 + timedelta(hours=1)) == []


def test_step_times_exact_equalities_accepted():
    # zero-length step, starts as the previous ended, ends as the next starts, ends exactly now
    assert r.step_time_problems(NOW, NOW, NOW, NOW, NOW) == []
    assert _times(start=T0, end=T0 + MIN, previous_end=T0, next_start=T0 + MIN, now=T0 + MIN) == []


def test_step_end_before_start():
    assert _times(start=T0, end=T0 - SEC) == [("end_before_start", {})]


def test_step_start_before_previous_end():
    prev = T0 + MIN
    assert _times(previous_end=prev) == [("before_previous", {"previous_end": prev})]


def test_step_may_start_in_the_minute_the_previous_ended():
    # The form shows whole minutes: a previous end at 08:00:59 prefills 08:00, which must be accepted.
    assert _times(previous_end=T0 + timedelta(seconds=59)) == []
    assert _times(start=T0, end=T0 + timedelta(minutes=30), next_start=T0 + timedelta(minutes=30, seconds=40)) == []


def test_step_end_after_next_start():
    end = T0 + timedelta(minutes=30)
    nxt = end - SEC
    assert _times(end=end, next_start=nxt) == [("after_next", {"next_start": nxt})]


def test_step_end_in_future():
    assert _times(start=NOW - MIN, end=NOW + SEC) == [("time_in_future", {})]


def test_step_start_and_end_in_future_reported_once():
    assert _times(start=NOW + MIN, end=NOW + 2 * MIN) == [("time_in_future", {})]


def test_step_start_in_future_even_if_end_is_not():
    assert _times(start=NOW + MIN, end=NOW) == [("end_before_start", {}), ("time_in_future", {})]


def test_step_time_all_problems_in_order():
    prev, nxt = T0 + MIN, T0 - timedelta(hours=1)
    assert _times(start=T0, end=T0 - SEC, previous_end=prev, next_start=nxt, now=T0 - timedelta(hours=2)) == [
        ("end_before_start", {}),
        ("before_previous", {"previous_end": prev}),
        ("after_next", {"next_start": nxt}),
        ("time_in_future", {}),
    ]


# --- QC judgement --------------------------------------------------------------------------------

PURITY = QcItemSpec("purity", "Purity", "numeric", min_value=D(99), unit="%")
COUNT = QcItemSpec("count", "Bacterial count", "numeric", min_value=D("5e12"), max_value=D("2e13"))
PATHOGEN = QcItemSpec("cdiff", "C. difficile toxin", "negative")
APPEARANCE = QcItemSpec("appearance", "Appearance", "conforms")


@pytest.mark.parametrize(
    "text, value, number, in_spec",
    [
        ("98.99", "98.99", D("98.99"), False),
        ("98.999999", "98.999999", D("98.999999"), False),
        ("99.0", "99", D(99), True),
        ("99", "99", D(99), True),
        ("99.5 %", "99.5", D("99.5"), True),
        ("100", "100", D(100), True),
        ("1e2", "100", D(100), True),
        ("-1", "-1", D(-1), False),
    ],
)
def test_judge_purity(text, value, number, in_spec):
    assert r.judge_qc(PURITY, text) == QcJudgement(value, number, in_spec)


@pytest.mark.parametrize(
    "text, value, in_spec",
    [
        ("4.99e12", "4.99 × 10^12", False),
        ("4.999999x10^12", "4.999999 × 10^12", False),
        ("5e12", "5 × 10^12", True),
        ("5.0×10¹²", "5 × 10^12", True),
        ("5.01e12", "5.01 × 10^12", True),
        ("1.2e13", "1.2 × 10^13", True),
        ("1.2x10^13", "1.2 × 10^13", True),
        ("1.99e13", "1.99 × 10^13", True),
        ("2e13", "2 × 10^13", True),
        ("2.0×10¹³", "2 × 10^13", True),
        ("2.01e13", "2.01 × 10^13", False),
        ("2.000001e13", "2.000001 × 10^13", False),
        ("10^13", "1 × 10^13", True),
    ],
)
def test_judge_count(text, value, in_spec):
    j = r.judge_qc(COUNT, text)
    assert j == QcJudgement(value, r.parse_quantity(text), in_spec)
    assert j.number is not None


def test_judge_numeric_without_bounds_is_in_spec():
    spec = QcItemSpec("ph", "pH", "numeric")
    assert r.judge_qc(spec, "7.2") == QcJudgement("7.2", D("7.2"), True)


def test_judge_numeric_max_only():
    spec = QcItemSpec("moist", "Moisture", "numeric", max_value=D(5))
    assert r.judge_qc(spec, "5") == QcJudgement("5", D(5), True)
    assert r.judge_qc(spec, "5.01") == QcJudgement("5.01", D("5.01"), False)


@pytest.mark.parametrize("text", ["", "   ", None, "abc", "1,2e13", "n/a", "negative", "inf", "nan", "x10^13"])
def test_judge_numeric_invalid(text):
    assert r.judge_qc(PURITY, text) is None
    assert r.judge_qc(COUNT, text) is None


@pytest.mark.parametrize("text", ["1e1000000", "1x10^1000000"])
def test_judge_numeric_huge_value_does_not_raise(text):
    j = r.judge_qc(COUNT, text)
    assert j is None or j.in_spec is False


@pytest.mark.parametrize(
    "text, value, in_spec",
    [
        ("negative", "negative", True),
        ("Negative", "negative", True),
        ("  NEGATIVE ", "negative", True),
        ("neg", "negative", True),
        ("阴性", "negative", True),
        ("positive", "positive", False),
        ("pos", "positive", False),
        ("阳性", "positive", False),
    ],
)
def test_judge_negative_type(text, value, in_spec):
    assert r.judge_qc(PATHOGEN, text) == QcJudgement(value, None, in_spec)


@pytest.mark.parametrize("text", ["maybe", "", None, "conforms", "符合", "pass", "0", "negativ", "not detected"])
def test_judge_negative_type_invalid(text):
    assert r.judge_qc(PATHOGEN, text) is None


@pytest.mark.parametrize(
    "text, value, in_spec",
    [
        ("conforms", "conforms", True),
        ("Conforms", "conforms", True),
        ("conform", "conforms", True),
        ("符合", "conforms", True),
        ("pass", "conforms", True),
        ("does not conform", "does_not_conform", False),
        ("Does Not Conform", "does_not_conform", False),
        ("does_not_conform", "does_not_conform", False),
        ("不符合", "does_not_conform", False),
        ("fail", "does_not_conform", False),
    ],
)
def test_judge_conforms_type(text, value, in_spec):
    assert r.judge_qc(APPEARANCE, text) == QcJudgement(value, None, in_spec)


@pytest.mark.parametrize("text", ["maybe", "", None, "negative", "阴性", "positive", "yes"])
def test_judge_conforms_type_invalid(text):
    assert r.judge_qc(APPEARANCE, text) is None


def test_judge_unknown_result_type():
    assert r.judge_qc(QcItemSpec("x", "X", "free_text"), "negative") is None


# --- batch status machine --------------------------------------------------------------------------

ALLOWED = {(cur, tgt) for cur, targets in BATCH_TRANSITIONS.items() for tgt in targets}


def test_transitions_table():
    assert ALLOWED == {
        ("in_process", "awaiting_qc"),
        ("in_process", "rejected"),
        ("awaiting_qc", "quarantine"),
        ("awaiting_qc", "rejected"),
        ("quarantine", "released"),
        ("quarantine", "rejected"),
        ("released", "expired"),
        ("released", "recalled"),
        ("released", "on_hold"),
        ("on_hold", "released"),
        ("on_hold", "recalled"),
    }
    for cur, tgt in ALLOWED:
        assert cur in BATCH_STATUSES and tgt in BATCH_STATUSES


@pytest.mark.parametrize("current, target", sorted(ALLOWED))
def test_transition_allowed(current, target):
    assert r.transition_allowed(current, target) is True


@pytest.mark.parametrize(
    "current, target", sorted((c, t) for c in BATCH_STATUSES for t in BATCH_STATUSES if (c, t) not in ALLOWED)
)
def test_transition_refused(current, target):
    assert r.transition_allowed(current, target) is False


@pytest.mark.parametrize(
    "current, target",
    [
        ("in_process", "released"),
        ("quarantine", "in_process"),
        ("released", "quarantine"),
        ("awaiting_qc", "released"),
        ("rejected", "in_process"),
        ("rejected", "released"),
        ("recalled", "released"),
        ("expired", "released"),
        ("quarantine", "on_hold"),  # a lookback holds a batch not yet released without changing its status
        ("on_hold", "expired"),
        ("recalled", "on_hold"),
        ("unknown", "rejected"),
        ("in_process", "unknown"),
        ("in_process", "in_process"),
    ],
)
def test_transition_named_refusals(current, target):
    assert r.transition_allowed(current, target) is False


@pytest.mark.parametrize("terminal", ["rejected", "expired", "recalled"])
def test_terminal_statuses(terminal):
    assert not any(r.transition_allowed(terminal, t) for t in BATCH_STATUSES)


# --- donor clearance --------------------------------------------------------------------------------

DONATION_DAY = date(2026, 11, 23)


def test_clearing_sample_on_donation_day_does_not_clear():
    assert r.clearing_screening([PassedScreening(1, date(2026, 12, 1), DONATION_DAY)], DONATION_DAY) is None


def test_clearing_sample_day_after_clears():
    s = PassedScreening(1, date(2026, 12, 1), DONATION_DAY + timedelta(days=1))
    assert r.clearing_screening([s], DONATION_DAY) == s


def test_clearing_none_passed():
    assert r.clearing_screening([], DONATION_DAY) is None


def test_clearing_picks_earliest_later_screening():
    before = PassedScreening(1, date(2026, 11, 1), date(2026, 10, 30))
    on_day = PassedScreening(2, date(2026, 11, 25), DONATION_DAY)
    later = PassedScreening(3, date(2027, 1, 10), date(2027, 1, 3))
    earliest = PassedScreening(4, date(2026, 12, 20), date(2026, 12, 15))
    assert r.clearing_screening([before, on_day, later, earliest], DONATION_DAY) == earliest


def test_clearing_tie_on_date_takes_lowest_decision_id():
    a = PassedScreening(9, date(2026, 12, 20), date(2026, 12, 15))
    b = PassedScreening(5, date(2026, 12, 20), date(2026, 12, 16))
    assert r.clearing_screening([a, b], DONATION_DAY) == b


# --- release -------------------------------------------------------------------------------------

GOOD_FACTS = ReleaseFacts(
    status="quarantine",
    donor_cleared=True,
    donor_code="DNR-0007",
    donation_day=DONATION_DAY,
    review_by_user=True,
    review_current=True,
    user_is_performer=False,
)


def _facts(**changes):
    return ReleaseFacts(**{**GOOD_FACTS.__dict__, **changes})


def test_release_all_good():
    assert r.release_blockers(GOOD_FACTS) == []


@pytest.mark.parametrize(
    "changes, blocker",
    [
        ({"status": "awaiting_qc"}, Blocker("status", {"status": "awaiting_qc"})),
        ({"status": "released"}, Blocker("status", {"status": "released"})),
        ({"steps_missing": ("wash 2", "fill")}, Blocker("steps_missing", {"items": "wash 2, fill"})),
        ({"steps_unverified": ("fill",)}, Blocker("steps_unverified", {"items": "fill"})),
        ({"qc_missing": ("purity",)}, Blocker("qc_missing", {"items": "purity"})),
        ({"qc_unverified": ("count", "cdiff")}, Blocker("qc_unverified", {"items": "count, cdiff"})),
        ({"qc_out_of_spec": ("count",)}, Blocker("qc_out_of_spec", {"items": "count"})),
        ({"open_deviations": ("DEV-2026-001",)}, Blocker("open_deviations", {"items": "DEV-2026-001"})),
        ({"lookback_holds": ("LB-2026-0001",)}, Blocker("lookback_hold", {"items": "LB-2026-0001"})),
        ({"donor_cleared": False}, Blocker("donor_not_cleared", {"donor": "DNR-0007", "day": DONATION_DAY})),
        ({"review_by_user": False}, Blocker("no_review", {})),
        ({"review_by_user": False, "review_current": False}, Blocker("no_review", {})),
        ({"review_current": False}, Blocker("review_stale", {})),
        ({"user_is_performer": True}, Blocker("performer", {})),
    ],
)
def test_release_single_blocker(changes, blocker):
    assert r.release_blockers(_facts(**changes)) == [blocker]


def test_release_default_facts_block_on_everything_unproven():
    assert [b.code for b in r.release_blockers(ReleaseFacts(status="quarantine"))] == ["donor_not_cleared", "no_review"]


def test_release_every_blocker_in_order():
    facts = ReleaseFacts(
        status="in_process",
        steps_missing=("a",),
        steps_unverified=("b",),
        qc_missing=("c",),
        qc_unverified=("d",),
        qc_out_of_spec=("e",),
        open_deviations=("f",),
        lookback_holds=("g",),
        donor_cleared=False,
        review_by_user=True,
        review_current=False,
        user_is_performer=True,
    )
    assert [b.code for b in r.release_blockers(facts)] == [
        "status",
        "steps_missing",
        "steps_unverified",
        "qc_missing",
        "qc_unverified",
        "qc_out_of_spec",
        "open_deviations",
        "lookback_hold",
        "donor_not_cleared",
        "review_stale",
        "performer",
    ]


# --- unit use / expiry ------------------------------------------------------------------------------

EXPIRES = datetime(2027, 5, 24, 0, 0, tzinfo=UTC)
THAWED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "now, expected",
    [
        (EXPIRES - MIN, None),
        (EXPIRES - SEC, None),
        (EXPIRES, ("expired", {"at": EXPIRES})),
        (EXPIRES + MIN, ("expired", {"at": EXPIRES})),
    ],
)
def test_unit_use_expiry(now, expected):
    assert r.unit_use_problem(now, EXPIRES, None, DEFAULT) == expected


FAR = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "limits, offset, expected_hours",
    [
        (DEFAULT, timedelta(hours=6), None),
        (DEFAULT, timedelta(hours=5, minutes=59), None),
        (DEFAULT, timedelta(0), None),
        (DEFAULT, timedelta(hours=6, minutes=1), 6),
        (DEFAULT, timedelta(hours=6, seconds=1), 6),
        (CUSTOM, timedelta(hours=2), None),
        (CUSTOM, timedelta(hours=2, minutes=1), 2),
        (CUSTOM, timedelta(hours=6), 2),  # fine by default, past the custom window
    ],
)
def test_unit_use_thaw_window(limits, offset, expected_hours):
    result = r.unit_use_problem(THAWED + offset, FAR, THAWED, limits)
    if expected_hours is None:
        assert result is None
    else:
        assert result == ("thaw_window", {"at": THAWED + timedelta(hours=expected_hours), "hours": expected_hours})


def test_unit_use_expired_wins_over_thaw():
    now = THAWED + timedelta(hours=7)
    assert r.unit_use_problem(now, now, THAWED, DEFAULT) == ("expired", {"at": now})


def test_thaw_use_by():
    assert r.thaw_use_by(THAWED, DEFAULT) == THAWED + timedelta(hours=6)
    assert r.thaw_use_by(THAWED, CUSTOM) == THAWED + timedelta(hours=2)


DAY_END = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)


def _at(h, m=0, s=0):
    return datetime(2026, 11, 23, h, m, s, tzinfo=UTC)


@pytest.mark.parametrize(
    "limits, filled, expected",
    [
        (DEFAULT, _at(10), _at(22)),
        (DEFAULT, _at(11, 59, 59), DAY_END),  # exactly at the day end
        (DEFAULT, _at(12), DAY_END),
        (DEFAULT, _at(20), DAY_END),
        (CUSTOM, _at(10), _at(14)),
        (CUSTOM, _at(20), _at(23, 59, 59)),
        (CUSTOM, _at(21), DAY_END),
    ],
)
def test_fresh_use_by(limits, filled, expected):
    assert r.fresh_use_by(filled, DAY_END, limits) == expected


TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    "limits, days, soon",
    [
        (DEFAULT, -1, False),
        (DEFAULT, 0, True),
        (DEFAULT, 1, True),
        (DEFAULT, 7, True),
        (DEFAULT, 8, False),
        (CUSTOM, 3, True),
        (CUSTOM, 4, False),
        (CUSTOM, -1, False),
    ],
)
def test_expiring_soon(limits, days, soon):
    assert r.expiring_soon(TODAY + timedelta(days=days), TODAY, limits) is soon


# --- boxes and storage ----------------------------------------------------------------------------


def test_box_positions():
    assert r.box_positions(2, 3) == ["A1", "A2", "A3", "B1", "B2", "B3"]
    assert r.box_positions(1, 1) == ["A1"]
    assert r.box_positions(0, 3) == []
    positions = r.box_positions(9, 9)
    assert len(positions) == 81 and positions[0] == "A1" and positions[-1] == "I9"
    assert r.box_positions(10, 10)[-1] == "J10"


@pytest.mark.parametrize(
    "position, expected",
    [
        ("A1", None),
        ("a1", None),
        (" b3 ", None),
        ("B3", None),
        ("A4", ("no_such_position", {"position": "A4", "last": "B3"})),
        ("C1", ("no_such_position", {"position": "C1", "last": "B3"})),
        ("A0", ("no_such_position", {"position": "A0", "last": "B3"})),
        ("A01", ("no_such_position", {"position": "A01", "last": "B3"})),
        ("", ("no_such_position", {"position": "", "last": "B3"})),
        (None, ("no_such_position", {"position": "", "last": "B3"})),
    ],
)
def test_position_problem(position, expected):
    assert r.position_problem(2, 3, position, set()) == expected


def test_position_problem_empty_box():
    assert r.position_problem(0, 0, "A1", set()) == ("no_such_position", {"position": "A1", "last": ""})


def test_two_units_into_one_position():
    occupied: set[str] = set()
    assert r.position_problem(9, 9, "A1", occupied) is None
    occupied.add("A1")
    assert r.position_problem(9, 9, "A1", occupied) == ("position_occupied", {"position": "A1"})
    assert r.position_problem(9, 9, "a1", occupied) == ("position_occupied", {"position": "A1"})
    assert r.position_problem(9, 9, "A2", occupied) is None


def test_outside_box_wins_over_occupied():
    assert r.position_problem(2, 3, "C1", {"C1"}) == ("no_such_position", {"position": "C1", "last": "B3"})


@pytest.mark.parametrize(
    "storage, container, mismatch",
    [
        ("frozen", "freezer", False),
        ("frozen", "fridge", True),
        ("fresh", "fridge", False),
        ("fresh", "freezer", True),
        ("warm", "fridge", True),
        ("frozen", "shelf", True),
    ],
)
def test_storage_mismatch(storage, container, mismatch):
    assert r.storage_mismatch(storage, container) is mismatch


# --- identifiers --------------------------------------------------------------------------------


def test_lot_number():
    assert r.lot_number(date(2026, 11, 23), 1) == "FMT-20261123-01"
    assert r.lot_number(date(2027, 1, 5), 12) == "FMT-20270105-12"
    assert r.lot_number(date(2026, 11, 23), 100) == "FMT-20261123-100"


def test_unit_code():
    assert r.unit_code("FMT-20261123-01", 1) == "FMT-20261123-01-01"
    assert r.unit_code(r.lot_number(date(2026, 11, 23), 2), 15) == "FMT-20261123-02-15"


def test_donation_code():
    assert r.donation_code(date(2026, 11, 23), 1) == "DN-20261123-01"
    assert r.donation_code(date(2026, 2, 3), 7) == "DN-20260203-07"
