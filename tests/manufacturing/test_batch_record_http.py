"""The batch record through HTTP: steps in order, times and parameters checked, enrichment time,
four-eyes verification, corrections with a reason, the fill creating the dose units.

Every refusal checks the status code, the sentence in the page's error box, that the typed
values are still in the form, and that nothing was stored.
"""

from __future__ import annotations

import json
import re

import pytest

from lims.audit.models import Signature
from lims.manufacturing.models import Batch, BatchStep, Deviation, DoseUnit
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import DONATION_DAY, lab, local
from tests.manufacturing.flow import LOT, STEPS, ok
from tests.manufacturing.pages import error_of, forbidden, input_value, refused, textarea_value

D = DONATION_DAY
UNITS = [f"{LOT}-0{i}" for i in range(1, 7)]


# --- helpers ------------------------------------------------------------------------------------


def step_row(page: str, position: int) -> str:
    m = re.search(rf'<tr[^>]*data-position="{position}">(.*?)</tr>', page, re.S)
    assert m, f"no row for step {position}"
    return m.group(1)


def steps_state(lot=LOT):
    """Everything a refusal must leave untouched in the record."""
    batch = flow.row(Batch, lot=lot)
    steps = [(s.position, s.kind, s.params, s.started_at, s.ended_at, s.version) for s in flow.rows(BatchStep, lot=lot)]
    units = [(u.code, u.status) for u in flow.rows(DoseUnit, lot=lot)]
    devs = [(d.code, d.status) for d in flow.rows(Deviation, lot=lot)]
    return batch.status, batch.enrichment_minutes, batch.version, steps, units, devs


def verified_signatures():
    return [
        (s.record_id, s.user_name, s.record_version)
        for s in flow.rows(Signature, record_type="batch_step", meaning="verified")
    ]


def started(lab_):
    ok(flow.receive(lab_))
    ok(flow.start(lab_))


def post_step(lab_, position, fields, start_hm=None, end_hm=None, who=None):
    return (who or lab_.tech).post(
        f"/batches/{LOT}/steps", flow.step_form(position, fields, start_hm, end_hm), token_from=f"/batches/{LOT}"
    )


def correct(lab_, position, fields=None, reason="", version=None, start_hm=None, end_hm=None, who=None):
    step = flow.row(BatchStep, lot=LOT, position=position)
    end = end_hm or STEPS[position - 1][0]
    start = start_hm or (STEPS[position - 2][0] if position > 1 else None)
    p = f"fix{position}"
    data = flow.step_form(position, fields or STEPS[position - 1][1], start, end, prefix=p)
    data.update({f"{p}-version": str(step.version if version is None else version), f"{p}-reason": reason})
    return (who or lab_.tech).post(f"/batches/{LOT}/steps/{position}", data, token_from=f"/batches/{LOT}")


def later_clock(lab_, clock, hh=12):
    clock.set(lab(D, hh, 0))
    flow.relogin(lab_)


# --- order ----------------------------------------------------------------------------------------


def test_first_step_must_be_homogenisation(app, mfg):
    started(mfg)
    before = steps_state()
    resp = post_step(mfg, 3, STEPS[2][1], (9, 19), (9, 26))
    refused(resp, 422, "Steps are recorded in order: the next step is Homogenisation.")
    # the values were typed for another step: the page offers the form of the step that is next
    assert "Record step 1: Homogenisation" in page_text(resp)
    assert steps_state() == before and before[3] == []


def test_skipping_a_step_refused(app, mfg):
    started(mfg)
    flow.record_steps(mfg, upto=1)
    before = steps_state()
    resp = post_step(mfg, 3, STEPS[2][1], (9, 7), (9, 26))
    refused(resp, 422, "the next step is Multi-stage microfiltration.")
    assert "Record step 2: Multi-stage microfiltration" in page_text(resp)
    assert steps_state() == before and [s[0] for s in before[3]] == [1]


# --- times and parameters -------------------------------------------------------------------------

STEP_REFUSALS = [
    pytest.param(
        1,
        2,
        {"mesh_um": "2000, 500, 100"},
        (9, 5),
        (9, 19),
        "The step starts before the previous step ended",
        id="starts-before-previous-end",
    ),
    pytest.param(
        1,
        2,
        {"mesh_um": "2000, 500, 100"},
        (9, 12),
        (9, 10),
        "The end time is before the start time.",
        id="end-before-start",
    ),
    pytest.param(
        1, 2, {"mesh_um": "2000, 500, 100"}, (9, 7), (10, 5), "Step times cannot be in the future.", id="end-in-future"
    ),
    pytest.param(
        1,
        2,
        {"mesh_um": "2000"},
        (9, 7),
        (9, 19),
        "1 filtration stage(s) recorded; at least 2 are required.",
        id="one-filtration-stage",
    ),
    pytest.param(
        1,
        2,
        {"mesh_um": "100, 500, 2000"},
        (9, 7),
        (9, 19),
        "Each filtration stage must be finer than the one before (coarse to fine).",
        id="mesh-not-descending",
    ),
    pytest.param(
        2,
        3,
        {"g_force": "1100", "minutes": "3", "temperature_c": "50"},
        (9, 19),
        (9, 26),
        "The wash temperature must be between -20 and 45 °C.",
        id="wash-at-50C",
    ),
    pytest.param(
        6,
        7,
        {"dose_count": "7", "unit_volume_ml": "120", "storage": "frozen"},
        (9, 50),
        (9, 58),
        "Filling needs 840 mL but the final resuspension has 800 mL.",
        id="fill-exceeds-resuspension",
    ),
]


@pytest.mark.parametrize("upto,position,fields,start_hm,end_hm,message", STEP_REFUSALS)
def test_step_refused_stores_nothing_and_keeps_the_form(app, mfg, upto, position, fields, start_hm, end_hm, message):
    started(mfg)
    flow.record_steps(mfg, upto=upto)
    before = steps_state()
    resp = post_step(mfg, position, fields, start_hm, end_hm)
    refused(resp, 422, message)
    assert input_value(resp, "step-started_at") == local(D, *start_hm)
    assert input_value(resp, "step-ended_at") == local(D, *end_hm)
    for name, value in fields.items():
        if name != "storage":
            assert input_value(resp, f"step-{name}") == value, name
    assert steps_state() == before
    assert before[0] == "in_process" and len(before[3]) == upto and before[4] == []


# --- enrichment time --------------------------------------------------------------------------------


def test_default_flow_enrichment_within_limit(app, mfg):
    started(mfg)
    flow.record_steps(mfg, upto=5)
    batch = flow.row(Batch, lot=LOT)
    assert batch.enrichment_minutes == 41
    assert flow.rows(Deviation, lot=LOT) == []
    assert "41 min (limit 60 min)" in page_text(mfg.tech.get(f"/batches/{LOT}"))


@pytest.mark.parametrize(
    "last_wash_end,minutes,deviation",
    [((10, 0), 60, False), ((10, 1), 61, True)],
    ids=["60-min-at-limit", "61-min-over"],
)
def test_enrichment_limit(app, mfg, clock, last_wash_end, minutes, deviation):
    later_clock(mfg, clock)
    started(mfg)
    flow.record_steps(mfg, upto=4)
    ok(flow.record_step(mfg, 5, start_hm=(9, 33), end_hm=last_wash_end))
    batch = flow.row(Batch, lot=LOT)
    assert batch.enrichment_minutes == minutes
    devs = flow.rows(Deviation, lot=LOT)
    page = page_text(mfg.tech.get(f"/batches/{LOT}"))
    if deviation:
        assert [(d.source, d.status) for d in devs] == [("process", "open")]
        assert f"took {minutes} min" in devs[0].description and "the limit is 60 min" in devs[0].description
        assert "over the limit" in page and devs[0].code in page
    else:
        assert devs == []
        assert "within the limit" in page
    # the batch continues: the rest of the record is accepted
    ok(flow.record_step(mfg, 6, start_hm=last_wash_end, end_hm=(10, 10)))
    ok(flow.record_step(mfg, 7, start_hm=(10, 10), end_hm=(10, 20)))
    assert flow.row(Batch, lot=LOT).status == "awaiting_qc"
    assert len(flow.rows(Deviation, lot=LOT)) == (1 if deviation else 0)


# --- verification (four-eyes) -------------------------------------------------------------------------


def test_recorder_cannot_verify_own_steps(app, mfg):
    started(mfg)
    flow.record_steps(mfg, upto=3)
    before = steps_state()
    resp = flow.verify_steps(mfg, who=mfg.tech)
    refused(resp, 422, "Four-eyes")
    assert verified_signatures() == []
    assert steps_state() == before
    page = page_text(mfg.tech.get(f"/batches/{LOT}"))
    assert "You recorded or corrected these steps: another person verifies them." in page


def test_wrong_password_refused_then_second_person_verifies(app, mfg):
    started(mfg)
    flow.record_steps(mfg, upto=3)
    resp = flow.sign(
        mfg.tech2,
        f"/batches/{LOT}/verify-steps",
        "verify_steps",
        f"/batches/{LOT}",
        password="not-my-password",
        comment="checked against device log",
    )
    refused(resp, 422, "the password is not correct")
    assert textarea_value(resp, "verify_steps-comment") == "checked against device log"
    assert verified_signatures() == []
    ok(flow.verify_steps(mfg))
    assert verified_signatures() == [(f"{LOT}/S{i}", "Chen Jing", 1) for i in (1, 2, 3)]
    page = page_text(mfg.tech.get(f"/batches/{LOT}"))
    for i in (1, 2, 3):
        assert "not verified" not in step_row(page, i) and "Chen Jing" in step_row(page, i)
    # nothing pending any more
    refused(flow.verify_steps(mfg, who=mfg.qa), 422, "Every recorded step is already verified.")


def test_a_corrector_cannot_verify_the_step(app, mfg):
    started(mfg)
    flow.record_steps(mfg, upto=2)
    ok(correct(mfg, 2, {"mesh_um": "2000, 400, 100"}, reason="mesh 2 is 400 um", who=mfg.tech2))
    refused(flow.verify_steps(mfg, who=mfg.tech2), 422, "Four-eyes")
    refused(flow.verify_steps(mfg, who=mfg.tech), 422, "Four-eyes")  # tech1 recorded both
    assert verified_signatures() == []
    ok(flow.verify_steps(mfg, who=mfg.qa))
    assert [s[0] for s in verified_signatures()] == [f"{LOT}/S1", f"{LOT}/S2"]


# --- corrections ---------------------------------------------------------------------------------------

WASH_4_MIN = {"g_force": "1100", "minutes": "4", "temperature_c": "25"}


def test_correction_needs_a_reason_voids_verification_and_detects_stale_forms(app, mfg):
    started(mfg)
    flow.record_steps(mfg, upto=3)
    ok(flow.verify_steps(mfg))
    assert len(verified_signatures()) == 3
    before = steps_state()

    resp = correct(mfg, 3, WASH_4_MIN, reason="   ")
    refused(resp, 422, "A reason is required to correct a recorded step.")
    assert input_value(resp, "fix3-minutes") == "4"
    assert steps_state() == before

    ok(correct(mfg, 3, WASH_4_MIN, reason="centrifuge log shows 4 min"))
    step = flow.row(BatchStep, lot=LOT, position=3)
    assert step.version == 2 and json.loads(step.params)["minutes"] == "4"
    trail = [r for r in audit_rows(app, entity="batch_step", record_id=f"{LOT}/S3") if r.field == "params"]
    assert trail and trail[-1].reason == "centrifuge log shows 4 min"
    assert '"minutes": "3"' in trail[-1].old_value and '"minutes": "4"' in trail[-1].new_value
    page = page_text(mfg.tech.get(f"/batches/{LOT}"))
    assert "not verified" in step_row(page, 3)
    assert "not verified" not in step_row(page, 1) and "not verified" not in step_row(page, 2)

    after = steps_state()
    resp = correct(mfg, 3, {"g_force": "1200", "minutes": "3", "temperature_c": "25"}, reason="other fix", version=1)
    assert resp.status_code == 409, page_text(resp)[:3000]
    assert "changed by" in error_of(resp) and "Zhang Wei" in error_of(resp)
    assert input_value(resp, "fix3-g_force") == "1200"
    assert steps_state() == after


def test_fill_cannot_be_corrected(app, mfg):
    started(mfg)
    flow.record_steps(mfg)
    before = steps_state()
    resp = correct(mfg, 7, {"dose_count": "5", "unit_volume_ml": "120", "storage": "frozen"}, reason="miscounted")
    refused(resp, 422, "The fill cannot be corrected once dose units exist")
    assert steps_state() == before


# --- the fill ----------------------------------------------------------------------------------------


def test_fill_creates_units_and_closes_the_record(app, mfg):
    started(mfg)
    flow.record_steps(mfg, upto=6)
    assert flow.row(Batch, lot=LOT).status == "in_process" and flow.rows(DoseUnit, lot=LOT) == []
    ok(flow.record_step(mfg, 7))
    batch = flow.row(Batch, lot=LOT)
    assert batch.status == "awaiting_qc" and batch.storage == "frozen"
    units = flow.rows(DoseUnit, lot=LOT)
    assert [(u.code, u.status, u.storage) for u in units] == [(c, "quarantine", "frozen") for c in UNITS]
    page = page_text(mfg.tech.get(f"/batches/{LOT}"))
    assert all(c in page for c in UNITS) and 'id="next-step"' not in page

    before = steps_state()
    resp = post_step(mfg, 8, STEPS[4][1], (9, 58), (9, 59))
    refused(resp, 422, f"Batch {LOT} is awaiting QC: its steps are complete.")
    resp = post_step(mfg, 7, STEPS[6][1], (9, 58), (9, 59))
    refused(resp, 422, f"Batch {LOT} is awaiting QC: its steps are complete.")
    assert steps_state() == before


@pytest.mark.parametrize("who", ["qa", "nurse"])
def test_only_a_technician_records_steps(app, mfg, who):
    started(mfg)
    before = steps_state()
    resp = post_step(mfg, 1, STEPS[0][1], None, (9, 7), who=getattr(mfg, who))
    forbidden(resp)
    assert steps_state() == before


# --- found while testing ------------------------------------------------------------------------------


def test_refused_step_form_posts_the_step_it_shows(app, mfg):
    """A second technician posts step 2 after a colleague recorded it: the re-rendered form shows
    "Record step 3: Centrifugation wash 1", so submitting it must record step 3."""
    started(mfg)
    flow.record_steps(mfg, upto=2)
    resp = post_step(mfg, 2, STEPS[1][1], (9, 7), (9, 19), who=mfg.tech2)
    refused(resp, 422, "the next step is Centrifugation wash 1.")
    page = page_text(resp)
    assert "Record step 3: Centrifugation wash 1" in page
    assert input_value(resp, "step-position") == "3"
    # the colleague types the wash into the form as shown and submits it
    ok(post_step(mfg, int(input_value(resp, "step-position")), STEPS[2][1], (9, 19), (9, 26), who=mfg.tech2))


def test_correcting_resuspension_below_the_filled_volume_refused(app, mfg):
    """6 x 120 mL were filled from 800 mL; a correction to 700 mL would leave a record that filled
    720 mL from 700 mL, which the fill itself refuses."""
    started(mfg)
    flow.record_steps(mfg)
    before = steps_state()
    fields = {**STEPS[5][1], "volume_ml": "700"}
    resp = correct(mfg, 6, fields, reason="volume misread")
    refused(resp, 422, "Filling needs 720 mL but the final resuspension has 700 mL.")
    assert input_value(resp, "fix6-volume_ml") == "700"
    assert steps_state() == before


# --- issue 16 item 11: the step form accepts its own prefilled start time; a bad position is a 400 ------------


def test_step_form_accepts_seconds_and_its_own_prefilled_start(app, mfg):
    started(mfg)
    data = flow.step_form(1, STEPS[0][1], None, (9, 7))
    data["step-ended_at"] += ":30"  # a value with seconds, as a browser sends when the field held seconds
    ok(mfg.tech.post(f"/batches/{LOT}/steps", data, token_from=f"/batches/{LOT}"))
    assert flow.row(BatchStep, lot=LOT, position=1).ended_at.second == 30
    page = mfg.tech.get(f"/batches/{LOT}")
    prefilled = input_value(page, "step-started_at")
    assert prefilled == local(D, 9, 7)  # the minute the previous step ended, seconds cut
    data = flow.step_form(2, STEPS[1][1], None, (9, 19))
    data["step-started_at"] = prefilled
    ok(mfg.tech.post(f"/batches/{LOT}/steps", data, token_from=f"/batches/{LOT}"))
    assert [s.position for s in flow.rows(BatchStep, lot=LOT)] == [1, 2]


@pytest.mark.parametrize("position", ["abc", "1e3", "99999999999999999999", "-1", ""])
def test_a_step_position_that_is_no_step_is_refused(app, mfg, position):
    started(mfg)
    before = steps_state()
    data = flow.step_form(1, STEPS[0][1], None, (9, 7))
    data["step-position"] = position
    resp = mfg.tech.post(f"/batches/{LOT}/steps", data, token_from=f"/batches/{LOT}")
    assert resp.status_code in (400, 422), resp.status_code
    assert steps_state() == before
