"""Course rules at their boundaries: template, plan, postponement, units, bedside, observations.

Pure functions only: no database, no Flask app.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import lims.clinical.course_rules as rules
from lims.clinical.course_rules import (
    BedsideFacts,
    TemplateError,
    UnitFacts,
    bedside_problems,
    fever_grade,
    observation_problems,
    parse_template,
    plan_dates,
    plan_problems,
    postpone,
    postpone_problems,
    rank_candidates,
    reservation_problems,
    return_problem,
    same_donor_problem,
    unit_problems,
)

UTC = UTC
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TODAY = date(2026, 11, 23)
TOMORROW = TODAY + timedelta(days=1)
TOMORROW_START = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 00:00 of 24 Nov in Shanghai
US = timedelta(microseconds=1)
THAW_H = 6

ADMIN = "C-0003-D1"
RECIPIENT = "P-0003"

DEFAULT_FILE = Path(rules.__file__).with_name("default_course.json")


def default_data() -> dict:
    return json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))


def codes(problems):
    return [c for c, _p in problems]


# --- units at the bedside ---------------------------------------------------------------------------

GOOD_UNIT = UnitFacts(
    code="DU-0001",
    status="issued",
    storage="frozen",
    expires_at=NOW + timedelta(days=30),
    expiry_date=TODAY + timedelta(days=30),
    thawed_at=NOW - timedelta(hours=1),
    donor_code="D-001",
    batch_status="released",
    reserved_for=ADMIN,
    reserved_recipient=RECIPIENT,
    production_day=TODAY - timedelta(days=10),
)


def bedside_unit(u=GOOD_UNIT, *, admin=ADMIN, recipient=RECIPIENT, now=NOW, scanned=None):
    return unit_problems(
        u, u.code if (scanned is None and u is not None) else (scanned or ""), admin, recipient, now, THAW_H
    )


def test_a_good_unit_passes():
    assert bedside_unit() == []


def test_a_fresh_unit_needs_no_thaw():
    assert bedside_unit(replace(GOOD_UNIT, storage="fresh", thawed_at=None)) == []


def test_unit_reserved_for_another_recipient_is_wrong_patient():
    u = replace(GOOD_UNIT, reserved_for="C-0003-D1", reserved_recipient="P-0003")
    assert bedside_unit(u, admin="C-0004-D1", recipient="P-0004") == [
        ("other_recipient", {"code": "DU-0001", "recipient": "P-0003", "expected": "P-0004"})
    ]


def test_unit_reserved_for_another_dose_of_the_same_patient_is_not_reserved():
    u = replace(GOOD_UNIT, reserved_for="C-0003-D2", reserved_recipient=RECIPIENT)
    assert bedside_unit(u) == [("not_reserved", {"code": "DU-0001", "admin": ADMIN})]


def test_an_unreserved_unit_is_not_reserved():
    u = replace(GOOD_UNIT, status="available", reserved_for=None, reserved_recipient=None)
    assert bedside_unit(u) == [("not_reserved", {"code": "DU-0001", "admin": ADMIN})]


@pytest.mark.parametrize(
    "status, batch_status",
    [
        ("quarantine", "released"),
        ("issued", "quarantine"),
        ("issued", "awaiting_qc"),
        ("issued", "in_process"),
        ("issued", "rejected"),
    ],
)
def test_quarantined_unit_or_batch_is_refused(status, batch_status):
    u = replace(GOOD_UNIT, status=status, batch_status=batch_status)
    assert bedside_unit(u) == [("quarantine", {"code": "DU-0001"})]


def test_expired_at_the_instant_of_expiry():
    u = replace(GOOD_UNIT, expires_at=NOW)
    assert bedside_unit(u) == [("expired", {"code": "DU-0001", "at": NOW})]


def test_not_expired_one_microsecond_before_expiry():
    u = replace(GOOD_UNIT, expires_at=NOW + US)
    assert bedside_unit(u) == []


def test_expired_status_is_expired_even_before_expires_at():
    u = replace(GOOD_UNIT, status="expired")
    assert bedside_unit(u) == [("expired", {"code": "DU-0001", "at": GOOD_UNIT.expires_at})]


def test_thawed_exactly_six_hours_ago_is_still_usable():
    u = replace(GOOD_UNIT, thawed_at=NOW - timedelta(hours=6))
    assert bedside_unit(u) == []


def test_thawed_six_hours_and_one_minute_ago_is_outside_the_window():
    thawed = NOW - timedelta(hours=6, minutes=1)
    u = replace(GOOD_UNIT, thawed_at=thawed)
    assert bedside_unit(u) == [("thaw_window", {"code": "DU-0001", "at": NOW - timedelta(minutes=1), "hours": 6})]


@pytest.mark.parametrize("status, batch_status", [("recalled", "released"), ("issued", "recalled")])
def test_recalled_unit_or_batch_is_refused(status, batch_status):
    u = replace(GOOD_UNIT, status=status, batch_status=batch_status)
    assert bedside_unit(u) == [("recalled", {"code": "DU-0001"})]


def test_recall_wins_over_every_other_problem():
    # expired, thaw window gone, reserved for another patient and batch in quarantine as well
    u = replace(
        GOOD_UNIT,
        status="recalled",
        batch_status="quarantine",
        expires_at=NOW - timedelta(days=1),
        thawed_at=NOW - timedelta(hours=12),
        reserved_for="C-0004-D1",
        reserved_recipient="P-0004",
    )
    assert bedside_unit(u) == [("recalled", {"code": "DU-0001"})]


def test_reserved_but_not_issued():
    u = replace(GOOD_UNIT, status="reserved", thawed_at=None)
    assert bedside_unit(u) == [("not_issued", {"code": "DU-0001"})]


def test_frozen_unit_not_thawed():
    u = replace(GOOD_UNIT, thawed_at=None)
    assert bedside_unit(u) == [("not_thawed", {"code": "DU-0001"})]


@pytest.mark.parametrize("status", ["administered", "discarded"])
def test_used_or_discarded_unit(status):
    u = replace(GOOD_UNIT, status=status)
    assert bedside_unit(u) == [("unit_status", {"code": "DU-0001", "status": status})]


@pytest.mark.parametrize("scanned, shown", [("  LIMS:DU:XYZ  ", "LIMS:DU:XYZ"), ("", "-"), ("   ", "-"), (None, "-")])
def test_unknown_unit(scanned, shown):
    assert unit_problems(None, scanned, ADMIN, RECIPIENT, NOW, THAW_H) == [("unit_unknown", {"code": shown})]


# --- bedside facts ----------------------------------------------------------------------------------

GOOD_BEDSIDE = BedsideFacts(
    admin_code=ADMIN,
    recipient_code=RECIPIENT,
    scanned_patient=RECIPIENT,
    identity_confirmed=True,
    status="planned",
    scheduled=TODAY,
    today=TODAY,
    earlier_days_open=(),
    tube_confirmed=True,
    tube_date=TODAY - timedelta(days=1),
    tube_method="under gastroscopy",
    fasting=True,
    volume_ml=Decimal("120.0"),
    unit_volume_ml=Decimal("120.0"),
    given_at=NOW - timedelta(minutes=5),
    now=NOW,
)


def bedside(**changes):
    return bedside_problems(replace(GOOD_BEDSIDE, **changes))


def test_all_good_bedside_facts_pass():
    assert bedside() == []


def test_wrong_patient():
    assert bedside(scanned_patient=" P-0004 ") == [("wrong_patient", {"scanned": "P-0004", "expected": "P-0003"})]


def test_empty_wristband_is_wrong_patient():
    assert bedside(scanned_patient="  ") == [("wrong_patient", {"scanned": "-", "expected": "P-0003"})]


@pytest.mark.parametrize("scanned", ["p-0003", " P-0003 ", "p-0003\n"])
def test_right_patient_matches_case_insensitively(scanned):
    assert bedside(scanned_patient=scanned) == []


def test_identity_not_confirmed():
    assert bedside(identity_confirmed=False) == [("identity_not_confirmed", {})]


def test_dose_not_planned():
    assert bedside(status="given") == [("not_planned", {"status": "given"})]


def test_scheduled_tomorrow_is_not_today():
    assert bedside(scheduled=TOMORROW) == [("not_today", {"date": TOMORROW})]


def test_earlier_days_open():
    assert bedside(earlier_days_open=(1, 2)) == [("earlier_open", {"days": "1, 2"})]


@pytest.mark.parametrize(
    "changes", [{"tube_confirmed": False}, {"tube_date": None}, {"tube_method": ""}, {"tube_method": "   "}]
)
def test_tube_placement_incomplete(changes):
    assert bedside(**changes) == [("tube", {})]


def test_tube_date_in_the_future():
    assert bedside(tube_date=TOMORROW) == [("tube_future", {"date": TOMORROW})]


def test_tube_placed_today_is_fine():
    assert bedside(tube_date=TODAY) == []


def test_not_fasting():
    assert bedside(fasting=False) == [("fasting", {})]


@pytest.mark.parametrize("volume", [None, Decimal("0"), Decimal("-1")])
def test_volume_missing_or_not_positive(volume):
    assert bedside(volume_ml=volume) == [("volume", {})]


def test_volume_equal_to_the_unit_is_accepted():
    assert bedside(volume_ml=Decimal("120.0"), unit_volume_ml=Decimal("120")) == []


def test_volume_over_the_unit_is_refused():
    assert bedside(volume_ml=Decimal("120.1")) == [
        ("volume_over", {"volume": Decimal("120.1"), "unit": Decimal("120.0")})
    ]


def test_given_at_missing():
    assert bedside(given_at=None) == [("given_at", {})]


def test_given_at_now_is_fine_one_microsecond_later_is_future():
    assert bedside(given_at=NOW) == []
    assert bedside(given_at=NOW + US) == [("given_future", {})]


def test_the_infusion_cannot_start_before_the_unit_was_issued():
    issued = NOW - timedelta(hours=1, seconds=30)  # issued 12:58:30; the form is typed to the minute
    assert bedside(issued_at=issued, given_at=NOW - timedelta(hours=1)) == []
    assert bedside(issued_at=issued, given_at=NOW - timedelta(hours=1, minutes=1)) == []  # the same minute
    assert bedside(issued_at=issued, given_at=NOW - timedelta(hours=1, minutes=1, microseconds=1)) == [
        ("given_before_issue", {"at": issued})
    ]


# --- postponement -----------------------------------------------------------------------------------

D1 = date(2026, 11, 24)
SCHEDULE = {1: D1, 2: D1 + timedelta(days=1), 3: D1 + timedelta(days=2)}


def test_postpone_moves_the_day_and_all_later_days_by_the_same_delta():
    before = dict(SCHEDULE)
    moved = postpone(SCHEDULE, 2, D1 + timedelta(days=4))
    assert moved == {1: D1, 2: D1 + timedelta(days=4), 3: D1 + timedelta(days=5)}
    assert SCHEDULE == before  # the input is not changed


def test_postpone_day_one_moves_the_whole_course():
    assert postpone(SCHEDULE, 1, D1 + timedelta(days=2)) == {
        1: D1 + timedelta(days=2),
        2: D1 + timedelta(days=3),
        3: D1 + timedelta(days=4),
    }


def test_postpone_the_last_day_leaves_the_others():
    assert postpone(SCHEDULE, 3, D1 + timedelta(days=7)) == {
        1: D1,
        2: D1 + timedelta(days=1),
        3: D1 + timedelta(days=7),
    }


def pp(**changes):
    args = {
        "status": "planned",
        "current": D1,
        "new_date": D1 + timedelta(days=1),
        "reason_code": "fever",
        "reason": "38.6 °C in the morning",
        "today": TODAY,
        "unit_issued": False,
    }
    args.update(changes)
    return postpone_problems(**args)


def test_postpone_by_one_day_is_fine():
    assert pp() == []


@pytest.mark.parametrize("code", ["fever", "diarrhoea", "other"])
def test_postpone_reason_codes(code):
    assert pp(reason_code=code) == []


def test_postpone_when_not_planned():
    assert pp(status="given") == [("not_planned", {"status": "given"})]


@pytest.mark.parametrize("code", ["", "cold", "FEVER"])
def test_postpone_bad_reason_code(code):
    assert pp(reason_code=code) == [("postpone_reason_code", {})]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_postpone_empty_reason(reason):
    assert pp(reason=reason) == [("postpone_reason", {})]


def test_postpone_new_date_missing():
    assert pp(new_date=None) == [("new_date_missing", {})]


def test_postpone_to_the_same_date_is_refused():
    assert pp(new_date=D1) == [("new_date_not_later", {"date": D1, "current": D1})]


def test_postpone_to_an_earlier_date_is_refused():
    earlier = D1 - timedelta(days=1)
    assert pp(new_date=earlier) == [("new_date_not_later", {"date": earlier, "current": D1})]


def test_postpone_to_a_past_date_is_refused():
    current = TODAY - timedelta(days=3)
    new = TODAY - timedelta(days=1)
    assert pp(current=current, new_date=new) == [("day1_past", {"date": new})]
    assert pp(current=current, new_date=TODAY) == []


def test_postpone_with_the_unit_issued():
    assert pp(unit_issued=True) == [("unit_issued", {})]


# --- template and plan ------------------------------------------------------------------------------


def test_the_shipped_template_parses():
    t = parse_template(default_data())
    assert t.code == "WMT-NJ-D1D3" and t.version == 1
    assert t.days == (1, 2, 3)
    assert t.volume_ml == Decimal("120")
    assert [p.code for p in t.preconditions] == ["tube_placed", "fasting"]
    tube = t.preconditions[0]
    assert tube.needs == ("date", "method")
    assert t.preconditions[1].needs == ()
    assert len(t.observation_minutes) >= 2
    assert all(a < b for a, b in zip(t.observation_minutes, t.observation_minutes[1:]))
    assert t.observation_minutes == (30, 120, 240)
    assert len(t.co_therapy) == 1
    co = t.co_therapy[0]
    assert (co.drug, co.dose, co.route, co.on_day) == ("toripalimab", "200 mg", "IV", 3)
    assert (co.repeat_min_days, co.repeat_max_days) == (21, 28)


def mutated(**changes):
    data = copy.deepcopy(default_data())
    data.update(changes)
    return data


@pytest.mark.parametrize("days", [[2, 3], [0, 1, 2], [1, 3, 2], [1, 1, 2], []])
def test_template_days_must_start_at_1_and_increase(days):
    with pytest.raises(TemplateError, match="days"):
        parse_template(mutated(days=days))


def test_template_days_need_not_be_consecutive():
    assert parse_template(mutated(days=[1, 3, 8])).days == (1, 3, 8)


@pytest.mark.parametrize("minutes", [[30, 30, 240], [120, 30], [0, 30], [-30, 30], []])
def test_template_observation_minutes_must_be_positive_and_increasing(minutes):
    with pytest.raises(TemplateError, match="observation_minutes"):
        parse_template(mutated(observation_minutes=minutes))


@pytest.mark.parametrize("volume", [0, "0", -1, "0.0"])
def test_template_volume_must_be_positive(volume):
    with pytest.raises(TemplateError, match="volume_ml"):
        parse_template(mutated(volume_ml=volume))


@pytest.mark.parametrize("volume", ["abc", "", None, "NaN", "Infinity", [120]])
def test_template_volume_not_a_number_is_a_template_error(volume):
    with pytest.raises(TemplateError):
        parse_template(mutated(volume_ml=volume))


@pytest.mark.parametrize(
    "key",
    [
        "code",
        "version",
        "title",
        "route",
        "days",
        "volume_ml",
        "preconditions",
        "post_instructions",
        "observation_minutes",
    ],
)
def test_template_missing_key(key):
    data = default_data()
    del data[key]
    with pytest.raises(TemplateError, match="malformed"):
        parse_template(data)


def test_template_precondition_missing_text():
    data = default_data()
    del data["preconditions"][0]["text"]
    with pytest.raises(TemplateError):
        parse_template(data)


def test_template_co_therapy_missing_day():
    data = default_data()
    del data["co_therapy"][0]["on_day"]
    with pytest.raises(TemplateError):
        parse_template(data)


def test_template_not_a_dict():
    with pytest.raises(TemplateError):
        parse_template([])


def test_plan_dates_day_n_is_day1_plus_n_minus_1():
    t = parse_template(default_data())
    assert plan_dates(t, D1) == {1: D1, 2: date(2026, 11, 25), 3: date(2026, 11, 26)}
    spread = parse_template(mutated(days=[1, 3, 8]))
    assert plan_dates(spread, D1) == {1: D1, 3: date(2026, 11, 26), 8: date(2026, 12, 1)}


def test_plan_dates_cross_the_month_and_year():
    t = parse_template(default_data())
    assert plan_dates(t, date(2026, 12, 31)) == {1: date(2026, 12, 31), 2: date(2027, 1, 1), 3: date(2027, 1, 2)}


CONSENT = date(2026, 11, 20)


def test_plan_day1_today_is_fine():
    assert plan_problems(TODAY, TODAY, CONSENT, False) == []


def test_plan_day1_yesterday_is_refused():
    yesterday = TODAY - timedelta(days=1)
    assert plan_problems(yesterday, TODAY, CONSENT, False) == [("day1_past", {"date": yesterday})]


def test_plan_day1_before_consent_is_refused():
    consent = TODAY + timedelta(days=3)
    day1 = TODAY + timedelta(days=2)
    assert plan_problems(day1, TODAY, consent, False) == [("day1_before_consent", {"date": day1, "consent": consent})]


def test_plan_day1_on_the_consent_day_is_fine():
    consent = TODAY + timedelta(days=3)
    assert plan_problems(consent, TODAY, consent, False) == []


def test_plan_with_an_open_course_is_refused():
    assert plan_problems(TODAY, TODAY, CONSENT, True) == [("open_course", {})]


def test_plan_day1_missing():
    assert plan_problems(None, TODAY, CONSENT, True) == [("day1_missing", {})]


# --- reservation ------------------------------------------------------------------------------------

STOCK = UnitFacts(
    code="DU-0100",
    status="available",
    storage="frozen",
    expires_at=NOW + timedelta(days=3),
    expiry_date=TODAY + timedelta(days=3),
    thawed_at=None,
    donor_code="D-001",
    batch_status="released",
    reserved_for=None,
    reserved_recipient=None,
    production_day=TODAY - timedelta(days=5),
)


def reserve(u=STOCK, *, now=NOW, for_date=TOMORROW, day_start=TOMORROW_START):
    return reservation_problems(u, for_date, now, THAW_H, day_start)


def test_an_available_released_unit_can_be_reserved():
    assert reserve() == []


@pytest.mark.parametrize(
    "status, batch_status", [("recalled", "released"), ("available", "recalled"), ("reserved", "recalled")]
)
def test_reserve_recalled(status, batch_status):
    assert reserve(replace(STOCK, status=status, batch_status=batch_status)) == [("recalled", {"code": "DU-0100"})]


@pytest.mark.parametrize(
    "status, batch_status",
    [
        ("quarantine", "released"),
        ("available", "quarantine"),
        ("available", "awaiting_qc"),
        ("available", "in_process"),
    ],
)
def test_reserve_quarantine(status, batch_status):
    assert reserve(replace(STOCK, status=status, batch_status=batch_status)) == [("quarantine", {"code": "DU-0100"})]


def test_reserve_already_reserved_is_taken():
    u = replace(STOCK, status="reserved", reserved_for="C-0009-D2", reserved_recipient="P-0009")
    assert reserve(u) == [("taken", {"code": "DU-0100", "admin": "C-0009-D2"})]


def test_reserve_issued_without_known_admin_is_taken():
    assert reserve(replace(STOCK, status="issued")) == [("taken", {"code": "DU-0100", "admin": "?"})]


@pytest.mark.parametrize("status", ["administered", "discarded", "expired"])
def test_reserve_unit_in_another_status(status):
    assert reserve(replace(STOCK, status=status)) == [("unit_status", {"code": "DU-0100", "status": status})]


def test_reserve_expired_now():
    assert reserve(replace(STOCK, expires_at=NOW)) == [("expired", {"code": "DU-0100", "at": NOW})]


def test_reserve_expires_before_the_dose_day_starts():
    at = TOMORROW_START - timedelta(hours=1)
    assert reserve(replace(STOCK, expires_at=at)) == [
        ("expires_before", {"code": "DU-0100", "at": at, "date": TOMORROW})
    ]


def test_reserve_expiring_exactly_at_the_day_start_is_refused():
    assert reserve(replace(STOCK, expires_at=TOMORROW_START)) == [
        ("expires_before", {"code": "DU-0100", "at": TOMORROW_START, "date": TOMORROW})
    ]


def test_reserve_expiring_during_the_dose_day_is_allowed():
    assert reserve(replace(STOCK, expires_at=TOMORROW_START + US)) == []


def test_reserve_for_today_uses_now_not_the_day_start():
    # for a dose today the day has started already: what matters is now
    today_start = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    u = replace(STOCK, expires_at=NOW + timedelta(hours=1))
    assert reservation_problems(u, TODAY, NOW, THAW_H, today_start) == []


def test_reserve_thawed_unit_whose_window_closes_before_the_day_start():
    thawed = TOMORROW_START - timedelta(hours=6) - US
    u = replace(STOCK, thawed_at=thawed)
    assert reserve(u) == [("thaw_window", {"code": "DU-0100", "at": TOMORROW_START - US, "hours": 6})]


def test_reserve_thawed_unit_whose_window_closes_at_the_day_start_is_allowed():
    u = replace(STOCK, thawed_at=TOMORROW_START - timedelta(hours=6))
    assert reserve(u) == []


def test_reserve_thawed_unit_whose_window_already_closed_now():
    thawed = NOW - timedelta(hours=7)
    u = replace(STOCK, thawed_at=thawed)
    assert reservation_problems(u, TODAY, NOW, THAW_H, datetime(2026, 11, 22, 16, 0, tzinfo=UTC)) == [
        ("thaw_window", {"code": "DU-0100", "at": NOW - timedelta(hours=1), "hours": 6})
    ]


def test_reserve_thawed_unit_expiring_before_the_day_is_only_expires_before():
    """The thaw window is still open at the day start: only the expiry is the problem, not the thaw."""
    at = TOMORROW_START - timedelta(hours=1)
    u = replace(STOCK, thawed_at=TOMORROW_START - timedelta(hours=2), expires_at=at)
    assert reserve(u) == [("expires_before", {"code": "DU-0100", "at": at, "date": TOMORROW})]


def test_reserve_thawed_unit_expired_now_is_only_expired():
    u = replace(STOCK, thawed_at=NOW - timedelta(hours=1), expires_at=NOW)
    assert reservation_problems(u, TODAY, NOW, THAW_H, datetime(2026, 11, 22, 16, 0, tzinfo=UTC)) == [
        ("expired", {"code": "DU-0100", "at": NOW})
    ]


def _cand(code, donor, days):
    return replace(STOCK, code=code, donor_code=donor, expires_at=NOW + timedelta(days=days))


A = _cand("DU-A", "D-002", 1)
B = _cand("DU-B", "D-001", 3)
C = _cand("DU-C", "D-001", 2)
E = _cand("DU-E", "D-002", 2)


def test_rank_same_donor_first_then_earliest_expiry():
    assert [u.code for u in rank_candidates([A, B, C, E], "D-001")] == ["DU-C", "DU-B", "DU-A", "DU-E"]


def test_rank_without_preference_is_fefo():
    assert [u.code for u in rank_candidates([B, E, A, C], None)] == ["DU-A", "DU-C", "DU-E", "DU-B"]


def test_rank_preference_for_a_donor_with_no_units_is_fefo():
    assert [u.code for u in rank_candidates([B, C, A], "D-999")] == ["DU-A", "DU-C", "DU-B"]


def test_rank_empty():
    assert rank_candidates([], "D-001") == []


def test_same_donor_problem_while_a_same_donor_alternative_exists():
    assert same_donor_problem(A, "D-001", [A, C, B]) == (
        "other_donor",
        {"code": "DU-A", "donor": "D-001", "alternative": "DU-C"},
    )


def test_same_donor_problem_none_without_a_same_donor_alternative():
    assert same_donor_problem(A, "D-001", [A, E]) is None
    assert same_donor_problem(A, "D-001", []) is None


def test_same_donor_problem_none_for_the_course_donor_or_without_preference():
    assert same_donor_problem(C, "D-001", [B]) is None
    assert same_donor_problem(A, None, [B, C]) is None


@pytest.mark.parametrize("status", ["issued", "reserved"])
def test_return_of_an_unthawed_unit_is_fine(status):
    assert return_problem(replace(STOCK, status=status)) is None


def test_return_of_a_thawed_unit_is_refused():
    u = replace(STOCK, status="issued", thawed_at=NOW - timedelta(minutes=10))
    assert return_problem(u) == ("thawed_no_return", {"code": "DU-0100"})


@pytest.mark.parametrize("status", ["available", "administered", "discarded"])
def test_return_of_a_unit_not_out_of_stock(status):
    assert return_problem(replace(STOCK, status=status)) == ("unit_status", {"code": "DU-0100", "status": status})


# --- observations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "temp, grade",
    [
        (None, None),
        ("36.5", None),
        ("37.9", None),
        ("37.99", None),
        ("38.0", 1),
        ("38.5", 1),
        ("39.0", 1),
        ("39.1", 2),
        ("39.01", 2),
        ("40.0", 2),
        ("40.1", 3),
        ("40.01", 3),
        ("42.0", 3),
    ],
)
def test_fever_grade(temp, grade):
    assert fever_grade(None if temp is None else Decimal(temp)) == grade


GIVEN = NOW - timedelta(hours=1)
ALLOWED = (30, 120, 240)


def obs(minutes=30, temp=Decimal("36.8"), observed_at=GIVEN + timedelta(minutes=30), already=frozenset()):
    return observation_problems(minutes, ALLOWED, temp, observed_at, GIVEN, NOW, set(already))


def test_a_good_observation():
    assert obs() == []
    assert obs(temp=None) == []


@pytest.mark.parametrize("minutes", [60, 0, None, 31])
def test_observation_time_not_in_the_template(minutes):
    assert obs(minutes=minutes) == [("obs_time", {"allowed": "30, 120, 240"})]


def test_observation_time_already_recorded():
    assert obs(already={30, 120}) == [("obs_done", {"minutes": 30})]
    assert obs(already={120, 240}) == []


@pytest.mark.parametrize("temp", ["29.9", "45.1"])
def test_implausible_temperature_is_refused(temp):
    assert obs(temp=Decimal(temp)) == [("temperature", {"value": Decimal(temp)})]


@pytest.mark.parametrize("temp", ["30.0", "45.0"])
def test_temperature_at_the_plausible_limits_is_accepted(temp):
    assert obs(temp=Decimal(temp)) == []


def test_observation_time_missing():
    assert obs(observed_at=None) == [("obs_at", {})]


def test_observation_before_the_dose():
    assert obs(observed_at=GIVEN - US) == [("obs_before_dose", {})]


def test_an_n_minute_observation_is_taken_from_n_minus_10_minutes_on():
    earliest = GIVEN + timedelta(minutes=20)
    assert obs(observed_at=earliest) == []
    assert obs(observed_at=earliest - US) == [("obs_too_early", {"minutes": 30, "at": earliest})]
    assert obs(observed_at=GIVEN) == [("obs_too_early", {"minutes": 30, "at": earliest})]


def test_observation_in_the_future():
    assert obs(observed_at=NOW + US) == [("given_future", {})]
    assert obs(observed_at=NOW) == []


def test_the_infusion_is_on_the_doses_day():
    assert bedside(given_on=GOOD_BEDSIDE.scheduled) == []
    assert bedside(given_on=GOOD_BEDSIDE.scheduled - timedelta(days=1)) == [
        ("given_other_day", {"date": GOOD_BEDSIDE.scheduled})
    ]
