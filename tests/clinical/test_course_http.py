"""FMT courses through HTTP: plan, reserve, issue, bedside administration, postponement, observations, returns.

Every refusal checks the sentence shown and that nothing changed (the dose stays
planned, the unit keeps its status). The clinic fixture (tests/clinical/conftest.py)
starts on 2026-11-25 10:00 lab time with batch FMT-20261123-01 released.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from lims.clinical.ae_models import AdverseEvent
from lims.clinical.course_models import Administration, Course, Observation, Postponement
from tests.clinical.conftest import (
    FEVER,
    OTHER,
    TODAY,
    UNITS,
    UNITS2,
    administer,
    craft_unit,
    dose_row,
    dose_url,
    issue,
    other_donor_batch,
    plan,
    postpone,
    quarantined_batch,
    register,
    reserve,
    unit_row,
    version_of,
)
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import lab, local
from tests.manufacturing.flow import LOT, ok
from tests.manufacturing.pages import error_of, forbidden, input_value, refused, textarea_value

D1, D2, D3 = (f"P-0001-C1-D{n}" for n in (1, 2, 3))
DAY2, DAY3, DAY4 = (TODAY + timedelta(days=n) for n in (1, 2, 3))


def state(dose, unit=None):
    """(dose status, its unit id, the unit's status) - what a refusal must leave untouched."""
    a = dose_row(dose)
    u = unit_row(unit) if unit else None
    return a.status, a.unit_id, a.version, (u.status, u.thawed_at, u.version) if u else None


def planned_course(clinic, day1=TODAY):
    ok(plan(clinic.nurse, "P-0001", day1))
    return flow.row(Course, code="P-0001-C1")


def issued(clinic, dose, unit):
    """Reserve (by the clinician) and issue (by the lab) today's dose."""
    ok(reserve(clinic.nurse, dose, unit))
    ok(issue(clinic.tech, unit))
    assert unit_row(unit).status == "issued"


# --- the whole course -----------------------------------------------------------------------------


def test_three_day_course_with_fever_postponement_observation_and_ae(app, clinic):
    nurse, tech = clinic.nurse, clinic.tech
    r = plan(nurse, "P-0001", TODAY)
    assert r.status_code == 302 and r.headers["Location"].endswith("/courses/P-0001-C1")
    doses = flow.rows(Administration, course_id=flow.row(Course, code="P-0001-C1").id)
    assert [(d.code, d.planned_date, d.scheduled_date, d.status) for d in doses] == [
        (D1, TODAY, TODAY, "planned"),
        (D2, DAY2, DAY2, "planned"),
        (D3, DAY3, DAY3, "planned"),
    ]

    # Day 1: the clinician reserves a unit by scanning its label, the lab issues (and thaws) it, the bedside gives it.
    r = reserve(nurse, D1, UNITS[0])
    assert r.status_code == 302, page_text(r)[:3000]
    assert unit_row(UNITS[0]).status == "reserved" and dose_row(D1).unit_id == unit_row(UNITS[0]).id
    today_page = page_text(tech.get("/courses/today"))
    assert D1 in today_page and UNITS[0] in today_page
    ok(issue(tech, UNITS[0]))
    u = unit_row(UNITS[0])
    assert (u.status, u.box_id, u.thawed_at is not None) == ("issued", None, True)
    clinic.at(TODAY, 10, 30)
    r = administer(nurse, D1, UNITS[0], local(TODAY, 10, 25))
    assert r.status_code == 302, page_text(r)[:4000]
    assert dose_row(D1).status == "given" and unit_row(UNITS[0]).status == "administered"
    assert flow.row(Course, code="P-0001-C1").status == "in_progress"

    # Evening of day 1: fever; day 2 moves by one day, day 3 with it.
    clinic.at(TODAY, 20, 0)
    reason = "38.2 °C at 20:00 on day 1; day 2 moved by one day per protocol"
    r = postpone(nurse, D2, DAY3.isoformat(), "fever", reason)
    assert r.status_code == 302, page_text(r)[:4000]
    assert [(d.scheduled_date, d.planned_date) for d in (dose_row(D2), dose_row(D3))] == [(DAY3, DAY2), (DAY4, DAY3)]
    pp = flow.rows(Postponement, admin_code=D2)
    assert [(p.from_date, p.to_date, p.reason_code, p.reason) for p in pp] == [(DAY2, DAY3, "fever", reason)]
    moved = audit_rows(app, entity="administration", field="scheduled_date", action="update")
    assert {(x.record_id, x.old_value, x.new_value) for x in moved} == {
        (D2, DAY2.isoformat(), DAY3.isoformat()),
        (D3, DAY3.isoformat(), DAY4.isoformat()),
    }
    assert all(x.reason == f"postponed (fever): {reason}" for x in moved)
    created = {
        x.field: x.new_value
        for x in audit_rows(app, entity="postponement", action="create")
        if x.record_id == f"{D2}/PP{pp[0].id}"
    }
    assert (created["reason_code"], created["reason"], created["to_date"]) == ("fever", reason, DAY3.isoformat())

    # The planned day 2 passes with nothing to issue.
    clinic.at(DAY2, 9, 0)
    r = reserve(nurse, D2, UNITS[1])
    ok(r)
    r = issue(tech, UNITS[1])
    assert r.status_code == 422 and f"This dose is scheduled for {DAY3}, not today." in error_of(r)
    assert unit_row(UNITS[1]).status == "reserved" and unit_row(UNITS[1]).thawed_at is None

    # Day 2, given a day late; 38.4 °C two hours after the infusion.
    clinic.at(DAY3, 9, 0)
    ok(issue(tech, UNITS[1]))
    clinic.at(DAY3, 9, 40)
    ok(administer(nurse, D2, UNITS[1], local(DAY3, 9, 30)))
    clinic.at(DAY3, 11, 35)
    r = nurse.post(
        f"{dose_url(D2)}/observations",
        {
            "obs-minutes_after": "120",
            "obs-observed_at": local(DAY3, 11, 30),
            "obs-temperature_c": "38.4",
            "obs-note": "indometacin suppository",
        },
        token_from=dose_url(D2),
    )
    assert r.status_code == 302, page_text(r)[:4000]
    obs = flow.rows(Observation, admin_code=D2)
    assert [(o.minutes_after, str(o.temperature_c), o.diarrhoea) for o in obs] == [(120, "38.4", False)]
    page = page_text(nurse.get(dose_url(D2)))
    assert "38.4 <strong>fever</strong>" in " ".join(page.split()), page[page.find("observations") :][:1500]

    # The AE: Fever grade 1, possibly related to FMT, following the day-2 dose.
    ae_page = nurse.get(f"/aes/new/P-0001?term={FEVER}&administration={dose_row(D2).id}")
    assert ae_page.status_code == 200 and "Fever" in page_text(ae_page)
    r = nurse.post(
        f"/aes/new/P-0001?term={FEVER}",
        {
            "term_code": FEVER,
            "grade": "1",
            "description": "38.4 °C two hours after the day-2 infusion",
            "onset_date": DAY3.isoformat(),
            "attribution_fmt": "possible",
            "attribution_cotherapy": "unrelated",
            "administration_id": str(dose_row(D2).id),
            "action_taken": "medication",
            "outcome": "recovering",
            "aware_at": local(DAY3, 11, 30),
        },
        token_from=f"/aes/new/P-0001?term={FEVER}",
    )
    assert r.status_code == 302, page_text(r)[:4000]
    ae = flow.row(AdverseEvent, recipient_code="P-0001")
    assert (ae.term, ae.grade, ae.attribution_fmt, ae.administration_id, ae.serious, ae.ethics_due_at) == (
        "Fever",
        1,
        "possible",
        dose_row(D2).id,
        False,
        None,
    )

    # Day 3 of the course, a day late as well.
    clinic.at(DAY4, 8, 30)
    ok(reserve(nurse, D3, UNITS[2]))
    ok(issue(tech, UNITS[2]))
    clinic.at(DAY4, 9, 5)
    ok(administer(nurse, D3, UNITS[2], local(DAY4, 9, 0)))

    # The course is completed; the page shows planned against actual.
    assert flow.row(Course, code="P-0001-C1").status == "completed"
    assert [unit_row(c).status for c in UNITS[:3]] == ["administered"] * 3
    assert [unit_row(c).status for c in UNITS[3:]] == ["available"] * 3
    page = " ".join(page_text(nurse.get("/courses/P-0001-C1")).split())
    assert "completed" in page
    rows = re.findall(r'<tr class="dose-given">(.*?)</tr>', page)
    assert len(rows) == 3
    assert TODAY.isoformat() in rows[0] and "+" not in rows[0] and "after plan" not in rows[0]
    for row, planned, given in ((rows[1], DAY2, DAY3), (rows[2], DAY3, DAY4)):
        assert planned.isoformat() in row and given.isoformat() in row
        assert "+1 d" in row and "(1 d after plan)" in row
    assert f"{DAY2} → {DAY3}: fever – {reason}" in page
    assert LOT in page and "D-0001" in page
    recipient_page = page_text(nurse.get("/recipients/P-0001"))
    assert "P-0001-C1" in recipient_page and "Fever" in recipient_page

    # The AE is traceable from the recipient, the batch and the donor.
    for query in (f"batch={LOT}", "donor=D-0001", "recipient=P-0001"):
        listing = page_text(nurse.get(f"/aes/?{query}"))
        assert ae.code in listing and "Fever" in listing and D2 in listing and UNITS[1] in listing, query
    summary = " ".join(page_text(nurse.get("/aes/summary")).split())
    m = re.search(r"<tr><td>General disorders and administration site conditions</td><td>Fever</td>(.*?)</tr>", summary)
    assert m, summary[-3000:]
    cells = re.findall(r"<td>(.*?)</td>", m.group(1))
    assert cells[:5] == ["1", "", "", "", ""]  # one recipient with grade 1 as his worst fever

    # The audit trail holds the administrations and the postponement with its reason.
    given = [x for x in audit_rows(app, entity="administration", field="status") if x.new_value == "given"]
    assert [(x.record_id, x.reason) for x in given] == [
        (D1, f"administered {UNITS[0]}"),
        (D2, f"administered {UNITS[1]}"),
        (D3, f"administered {UNITS[2]}"),
    ]
    assert {x.user_name for x in given} == {"Dr. Liu Yang"}
    assert any(x.reason and reason in x.reason for x in audit_rows(app, entity="administration", record_id=D2))


# --- bedside blocks: a clear message, nothing changed ---------------------------------------------


def ready(clinic, unit=UNITS[0], dose=D1):
    """Course planned from today, ``unit`` reserved and issued (thawed) for ``dose`` at 10:00."""
    planned_course(clinic)
    issued(clinic, dose, unit)
    return state(dose, unit)


def bedside_refused(clinic, before, *sentences, dose=D1, unit=UNITS[0], status=422, **overrides):
    scanned = overrides.pop("scan", unit)
    r = administer(clinic.nurse, dose, scanned, local(TODAY, 10, 0), **overrides)
    err = refused(r, status, *sentences)
    assert state(dose, unit) == before
    assert dose_row(dose).status == "planned" and dose_row(dose).given_at is None
    return r, err


def test_wrong_wristband_is_refused_and_the_typed_input_survives(app, clinic):
    before = ready(clinic)
    r, err = bedside_refused(
        clinic,
        before,
        "WRONG PATIENT: the wristband reads P-0002, this dose is for P-0001.",
        **{
            "give-patient": "LIMS:PT:P-0002",
            "give-tube_method": "under gastroscopy, 2026-11-24",
            "give-note": "patient drowsy",
        },
    )
    assert "Confirm" not in err  # only the wristband was wrong
    assert input_value(r, "give-patient") == "LIMS:PT:P-0002"
    assert input_value(r, "give-tube_method") == "under gastroscopy, 2026-11-24"
    assert input_value(r, "give-unit") == f"LIMS:DU:{UNITS[0]}"
    assert textarea_value(r, "give-note") == "patient drowsy"
    # The near miss stays in the audit trail although nothing was saved: which dose, what was scanned, why.
    near_miss = [(row.record_id, row.new_value, row.reason) for row in audit_rows(app, action="administration_refused")]
    assert near_miss == [(D1, f"LIMS:DU:{UNITS[0]}", "wrong_patient")]
    # Every missing confirmation is named at once.
    _r, err = bedside_refused(
        clinic,
        before,
        "Confirm the patient's name and date of birth with the patient.",
        "Confirm the nasojejunal tube placement with its date and method.",
        "Confirm that the patient is fasting.",
        "Confirm that the post-infusion instructions were given to the patient.",
        **{
            "give-identity_confirmed": None,
            "give-tube_method": "",
            "give-fasting": None,
            "give-instructions": ["position"],
        },
    )
    assert audit_rows(app, entity="administration", field="given_at", action="update") == []


def test_unit_reserved_for_another_recipient_is_refused(app, clinic):
    before = ready(clinic)
    assert register(clinic.nurse, OTHER) == "P-0002"
    ok(plan(clinic.nurse, "P-0002", TODAY))
    issued(clinic, "P-0002-C1-D1", UNITS[1])
    other_before = state("P-0002-C1-D1", UNITS[1])
    bedside_refused(
        clinic, before, f"WRONG PATIENT: unit {UNITS[1]} is reserved for P-0002, not P-0001.", scan=UNITS[1]
    )
    assert state("P-0002-C1-D1", UNITS[1]) == other_before


def test_unit_not_yet_issued_is_refused(app, clinic):
    planned_course(clinic)
    ok(reserve(clinic.nurse, D1, UNITS[0]))
    before = state(D1, UNITS[0])
    assert before[3][0] == "reserved"
    bedside_refused(clinic, before, f"Unit {UNITS[0]} has not been issued from the lab yet.")
    page = page_text(clinic.nurse.get(dose_url(D1)))
    assert 'id="administer"' not in page and "Today's doses" in page  # the form appears once the lab issued it


def test_unit_of_a_batch_in_quarantine_cannot_be_reserved_or_given(app, clinic):
    quarantined_batch(clinic)
    before = ready(clinic)
    q_before = unit_row(UNITS2[0]).status, unit_row(UNITS2[0]).version
    assert q_before[0] == "quarantine"
    message = f"Unit {UNITS2[0]} is not released (its batch is in quarantine or was not released)."
    bedside_refused(clinic, before, message, scan=UNITS2[0])
    r = reserve(clinic.nurse, D2, UNITS2[0])
    refused(r, 422, message)
    assert dose_row(D2).unit_id is None and (unit_row(UNITS2[0]).status, unit_row(UNITS2[0]).version) == q_before
    page = page_text(clinic.nurse.get(dose_url(D2)))
    assert UNITS[1] in page and UNITS2[0] not in page  # only released units are offered


def test_expired_unit_is_refused(app, clinic):
    before = ready(clinic)
    craft_unit(UNITS[0], expires_at=lab(TODAY, 9, 59))  # as if it had expired at 09:59 today
    before = state(D1, UNITS[0])
    bedside_refused(clinic, before, f"Unit {UNITS[0]} expired at 2026-11-25 09:59")
    page = page_text(clinic.nurse.get(dose_url(D1)))
    assert "Do not give:" in page and f"Unit {UNITS[0]} expired" in page


@pytest.mark.parametrize("minutes, accepted", [(6 * 60 + 1, False), (6 * 60, True)])
def test_thaw_window_of_six_hours_at_the_bedside(app, clinic, minutes, accepted):
    before = ready(clinic)  # issued, so thawed, at 10:00:00
    assert unit_row(UNITS[0]).thawed_at == lab(TODAY, 10, 0)
    clinic.clock.set(lab(TODAY, 10, 0))
    clinic.advance(minutes=minutes)
    given = local(TODAY, 16, minutes - 6 * 60)
    r = administer(clinic.nurse, D1, UNITS[0], given)
    if accepted:
        assert r.status_code == 302, page_text(r)[:3000]
        assert (dose_row(D1).status, unit_row(UNITS[0]).status) == ("given", "administered")
    else:
        refused(r, 422, f"Unit {UNITS[0]} was thawed more than 6 h ago: usable only until 2026-11-25 16:00:00")
        assert state(D1, UNITS[0]) == before


def test_a_dose_given_within_the_thaw_window_may_be_recorded_after_it_closed(app, clinic):
    ready(clinic)  # thawed at issue, 10:00
    clinic.clock.set(lab(TODAY, 10, 0))
    clinic.advance(minutes=6 * 60 + 30)  # 16:30: the window closed at 16:00
    r = administer(clinic.nurse, D1, UNITS[0], local(TODAY, 15, 50))
    assert r.status_code == 302, page_text(r)[:3000]
    assert (dose_row(D1).status, unit_row(UNITS[0]).status) == ("given", "administered")


def test_the_infusion_time_must_fall_on_the_doses_day(app, clinic):
    before = ready(clinic)
    r = administer(clinic.nurse, D1, UNITS[0], local(TODAY - timedelta(days=1), 23, 50))
    refused(r, 422, f"The infusion time must be on the dose's day, {TODAY}.")
    assert state(D1, UNITS[0]) == before


def test_recalled_batch_blocks_the_bedside(app, clinic):
    from tests.manufacturing.test_release_blockers_http import reason_sign

    ready(clinic)
    ok(reason_sign(clinic.lab.qa, "recall", "Donor tested positive for norovirus on follow-up."))
    assert unit_row(UNITS[0]).status == "recalled"
    before = state(D1, UNITS[0])
    bedside_refused(clinic, before, f"Unit {UNITS[0]} is recalled and must not be given.")
    refused(reserve(clinic.nurse, D2, UNITS[1]), 422, f"Unit {UNITS[1]} is recalled and must not be given.")
    assert dose_row(D2).unit_id is None
    # The recalled unit is unlinked from the dose (it keeps its status), so the dose can take another unit.
    page = page_text(clinic.nurse.get(dose_url(D1)))
    assert "Cancel the reservation" in page
    ok(
        clinic.nurse.post(
            f"{dose_url(D1)}/cancel-reservation", {"why-reason": "batch recalled"}, token_from=dose_url(D1)
        )
    )
    a, u = dose_row(D1), unit_row(UNITS[0])
    assert (a.status, a.unit_id, a.issued_at) == ("planned", None, None) and u.status == "recalled"
    assert "Reserve a dose unit" in page_text(clinic.nurse.get(dose_url(D1)))


def test_bedside_needs_the_dose_day(app, clinic):
    """A dose is given on its scheduled day only, and after the earlier days of the course."""
    planned_course(clinic)
    ok(reserve(clinic.nurse, D2, UNITS[1]))
    r = issue(clinic.tech, UNITS[1])
    refused(r, 422, f"This dose is scheduled for {DAY2}, not today.")
    assert unit_row(UNITS[1]).status == "reserved" and unit_row(UNITS[1]).thawed_at is None
    clinic.at(DAY2, 9, 0)
    ok(issue(clinic.tech, UNITS[1]))
    before = state(D2, UNITS[1])
    r = administer(clinic.nurse, D2, UNITS[1], local(DAY2, 9, 0))
    refused(r, 422, "Day 1 of the course has not been given or postponed yet.")
    assert state(D2, UNITS[1]) == before


def test_stale_bedside_form_is_refused_with_409(app, clinic):
    planned_course(clinic)
    ok(reserve(clinic.nurse, D1, UNITS[0]))
    opened = version_of(clinic.nurse, D1)  # the nurse opened the dose page before the lab issued the unit
    ok(issue(clinic.tech, UNITS[0]))
    before = state(D1, UNITS[0])
    r = administer(clinic.nurse, D1, UNITS[0], local(TODAY, 10, 0), version=opened)
    assert r.status_code == 409 and "changed by Zhang Wei" in page_text(r)
    assert state(D1, UNITS[0]) == before
    ok(administer(clinic.nurse, D1, UNITS[0], local(TODAY, 10, 0)))


# --- planning and co-therapy ---------------------------------------------------------------------------


def test_plan_refusals_and_roles(app, clinic):
    r = plan(clinic.nurse, "P-0001", TODAY - timedelta(days=1))
    refused(r, 422, f"{TODAY - timedelta(days=1)} is in the past: doses are planned from today on.")
    r = plan(clinic.tech, "P-0001", TODAY)
    forbidden(r)
    assert flow.rows(Course) == []
    ok(plan(clinic.nurse, "P-0001", TODAY))
    r = plan(clinic.nurse, "P-0001", DAY2)
    refused(r, 422, "The recipient already has a course that is not completed.")
    assert [c.code for c in flow.rows(Course)] == ["P-0001-C1"] and len(flow.rows(Administration)) == 3


def test_co_therapy_is_recorded_on_the_recipient_and_course(app, clinic):
    planned_course(clinic)
    url = "/courses/co-therapy/P-0001"
    form = {
        "co-drug": "toripalimab",
        "co-dose": "200 mg",
        "co-route": "IV",
        "co-given_on": DAY2.isoformat(),
        "co-cycle": "1",
    }
    r = clinic.nurse.post(url, form, token_from="/recipients/P-0001")
    refused(r, 422, f"The date {DAY2} is in the future.")
    assert input_value(r, "co-drug") == "toripalimab"
    ok(clinic.nurse.post(url, {**form, "co-given_on": TODAY.isoformat()}, token_from="/recipients/P-0001"))
    for page in (page_text(clinic.nurse.get("/courses/P-0001-C1")), page_text(clinic.nurse.get("/recipients/P-0001"))):
        assert "toripalimab" in page and "200 mg" in page
    forbidden(clinic.tech.post(url, form, token_from="/recipients/P-0001"))


# --- postponement -----------------------------------------------------------------------------------


def test_postponement_refusals_store_nothing_and_stale_forms_get_409(app, clinic):
    planned_course(clinic)
    version = version_of(clinic.nurse, D2, "pp")
    r = postpone(clinic.nurse, D2, DAY2.isoformat(), "fever", "38.2 °C", version=version)
    refused(r, 422, f"The new date {DAY2} is not after the scheduled {DAY2}.")
    r = postpone(clinic.nurse, D2, DAY3.isoformat(), "fever", "", version=version)
    assert r.status_code == 400 and "Describe the reason for the postponement" in page_text(r)
    r = postpone(clinic.nurse, D2, DAY3.isoformat(), "fever", "   ", version=version)
    assert r.status_code == 400
    r = postpone(clinic.nurse, D2, DAY3.isoformat(), "", "feels unwell", version=version)
    assert r.status_code == 400 and "Choose why the dose is postponed." in page_text(r)
    assert input_value(r, "pp-new_date") == DAY3.isoformat() and textarea_value(r, "pp-reason") == "feels unwell"
    assert flow.rows(Postponement) == [] and dose_row(D2).scheduled_date == DAY2 and dose_row(D3).scheduled_date == DAY3
    assert audit_rows(app, entity="administration", action="update") == []

    ok(postpone(clinic.nurse, D2, DAY3.isoformat(), "diarrhoea", "watery stools x4 overnight", version=version))
    r = postpone(clinic.nurse, D2, DAY4.isoformat(), "fever", "again", version=version)  # the form opened before
    assert r.status_code == 409 and "changed by Dr. Liu Yang" in page_text(r)
    assert [p.to_date for p in flow.rows(Postponement)] == [DAY3] and dose_row(D2).scheduled_date == DAY3


def test_postponement_refused_once_the_unit_is_issued(app, clinic):
    ready(clinic)
    before = state(D1, UNITS[0])
    r = postpone(clinic.nurse, D1, DAY2.isoformat(), "fever", "38.5 °C at the bedside")
    refused(r, 422, "The dose unit was already issued: return or discard it before postponing.")
    assert state(D1, UNITS[0]) == before and flow.rows(Postponement) == []


# --- units that will not be given -----------------------------------------------------------------


def test_fresh_unit_issued_goes_back_to_stock_a_thawed_one_is_discarded(app, clinic):
    planned_course(clinic)
    # A fresh (never frozen) unit is not thawed at issue and may return to the fridge.
    craft_unit(UNITS[3], storage="fresh", box_id=None, position=None)
    issued(clinic, D1, UNITS[3])
    assert unit_row(UNITS[3]).thawed_at is None
    url = f"{dose_url(D1)}/return"
    r = clinic.tech.post(
        url, {"ret-box": "LIMS:LOC:BOX-C1", "ret-position": "A1", "ret-reason": ""}, token_from=dose_url(D1)
    )
    assert r.status_code == 400 and unit_row(UNITS[3]).status == "issued"
    r = clinic.tech.post(
        url,
        {"ret-box": "LIMS:LOC:BOX-C1", "ret-position": "A1", "ret-reason": "patient vomiting, dose deferred"},
        token_from=dose_url(D1),
    )
    assert r.status_code == 302, page_text(r)[:3000]
    u = unit_row(UNITS[3])
    assert (u.status, u.position) == ("available", "A1") and dose_row(D1).unit_id is None
    assert dose_row(D1).issued_at is None and dose_row(D1).status == "planned"
    assert any(
        "patient vomiting, dose deferred" in (x.reason or "")
        for x in audit_rows(app, entity="dose_unit", record_id=UNITS[3])
    )

    # A frozen unit was thawed at issue: no way back, only discard with a reason.
    issued(clinic, D1, UNITS[0])
    before = state(D1, UNITS[0])
    r = clinic.tech.post(
        url, {"ret-box": "BOX-F1", "ret-position": "A1", "ret-reason": "not needed"}, token_from=dose_url(D1)
    )
    refused(r, 422, f"Unit {UNITS[0]} was thawed and cannot go back to stock: discard it.")
    assert state(D1, UNITS[0]) == before
    r = clinic.nurse.post(f"{dose_url(D1)}/discard", {"why-reason": ""}, token_from=dose_url(D1))
    assert r.status_code == 400 and state(D1, UNITS[0]) == before
    r = clinic.nurse.post(
        f"{dose_url(D1)}/discard", {"why-reason": "bag leaked after thawing"}, token_from=dose_url(D1)
    )
    assert r.status_code == 302, page_text(r)[:3000]
    u = unit_row(UNITS[0])
    assert (u.status, u.status_reason) == ("discarded", "bag leaked after thawing") and dose_row(D1).unit_id is None
    rows = audit_rows(app, entity="dose_unit", record_id=UNITS[0], field="status", action="update")
    assert rows[-1].new_value == "discarded" and "bag leaked after thawing" in rows[-1].reason
    # The dose can take another unit.
    ok(reserve(clinic.nurse, D1, UNITS[1]))


def test_reservation_can_be_cancelled_with_a_reason(app, clinic):
    planned_course(clinic)
    ok(reserve(clinic.nurse, D1, UNITS[0]))
    r = clinic.nurse.post(f"{dose_url(D1)}/cancel-reservation", {"why-reason": ""}, token_from=dose_url(D1))
    assert r.status_code == 400 and unit_row(UNITS[0]).status == "reserved"
    ok(
        clinic.nurse.post(
            f"{dose_url(D1)}/cancel-reservation", {"why-reason": "wrong unit chosen"}, token_from=dose_url(D1)
        )
    )
    assert unit_row(UNITS[0]).status == "available" and dose_row(D1).unit_id is None


def test_reserve_refusals(app, clinic):
    planned_course(clinic)
    ok(reserve(clinic.nurse, D1, UNITS[0]))
    r = reserve(clinic.nurse, D2, UNITS[0])
    refused(r, 422, f"Unit {UNITS[0]} is already reserved for {D1}.")
    r = clinic.nurse.post(f"{dose_url(D2)}/reserve", {"reserve-unit": "LIMS:PT:P-0001"}, token_from=dose_url(D2))
    refused(r, 422, "That is not a dose unit code")
    r = reserve(clinic.nurse, D2, "FMT-20990101-01-01")
    refused(r, 422, "No dose unit has the code FMT-20990101-01-01.")
    assert dose_row(D2).unit_id is None
    r = reserve(clinic.nurse, D1, UNITS[1])
    refused(r, 422, "A unit is already reserved for this dose")
    assert unit_row(UNITS[1]).status == "available"


def test_same_donor_preference_refuses_another_donors_unit_while_one_is_usable(app, clinic):
    other_donor_batch(clinic)
    planned_course(clinic)  # same-donor preference on
    ok(reserve(clinic.nurse, D1, UNITS[0]))  # donor D-0001
    r = reserve(clinic.nurse, D2, UNITS2[0])
    refused(
        r,
        422,
        f"Unit {UNITS2[0]} is from another donor; this course uses donor D-0001 and {UNITS[1]} is available "
        "(same-donor preference).",
    )
    assert dose_row(D2).unit_id is None and unit_row(UNITS2[0]).status == "available"
    page = " ".join(page_text(clinic.nurse.get(dose_url(D2))).split())
    assert page.index(UNITS[1]) < page.index(UNITS2[0])  # the course's donor is offered first
    ok(reserve(clinic.nurse, D2, UNITS[1]))
    # Without the preference another recipient's course takes any donor's unit.
    assert register(clinic.nurse, OTHER) == "P-0002"
    ok(plan(clinic.nurse, "P-0002", TODAY, same_donor=False))
    ok(reserve(clinic.nurse, "P-0002-C1-D1", UNITS[2]))
    ok(reserve(clinic.nurse, "P-0002-C1-D2", UNITS2[0]))


# --- roles ------------------------------------------------------------------------------------------


def test_technician_cannot_administer_and_clinician_cannot_issue(app, clinic):
    before = ready(clinic)
    r = administer(clinic.tech, D1, UNITS[0], local(TODAY, 10, 0), version=str(dose_row(D1).version))
    forbidden(r)
    assert state(D1, UNITS[0]) == before
    planned_dose = "P-0001-C1-D2"
    ok(reserve(clinic.tech, planned_dose, UNITS[1]))  # the lab may reserve
    clinic.at(DAY2, 9, 0)
    r = issue(clinic.nurse, UNITS[1], label=False)  # the desk refuses her before any label matters
    forbidden(r)
    assert unit_row(UNITS[1]).status == "reserved" and unit_row(UNITS[1]).thawed_at is None
    r = postpone(clinic.tech, D3, (DAY3 + timedelta(days=1)).isoformat(), version=str(dose_row(D3).version))
    forbidden(r)
    assert dose_row(D3).scheduled_date == DAY3
