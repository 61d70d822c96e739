"""QC results and deviations through HTTP: typed numbers, judgement against the spec, corrections
with a reason, four-eyes verification, deviations investigated and closed by a QA signature.

Every refusal checks the status code, the sentence in the page's error box, that the typed
values are still in the form, and that nothing was stored.
"""

from __future__ import annotations

import re

import pytest

from lims.audit.models import Signature
from lims.manufacturing.models import Batch, Deviation, QcResult
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT, QC_PASS, ok
from tests.manufacturing.pages import error_of, forbidden, input_value, refused, textarea_value

DEV = "DEV-2026-0001"
PURITY = "Bacterial purity"
COUNT = "Bacterial count per 10 mL"


# --- helpers ------------------------------------------------------------------------------------


def qc_row(page: str, code: str) -> str:
    m = re.search(rf'<tr data-code="{code}">(.*?)</tr>', page, re.S)
    assert m, f"no QC row {code}"
    return " ".join(m.group(1).split())


def qc_state(lot=LOT):
    """Everything a refused QC entry must leave untouched."""
    batch = flow.row(Batch, lot=lot)
    results = [(r.item_code, r.value, r.in_spec, r.tested_on, r.version) for r in flow.rows(QcResult, lot=lot)]
    devs = [(d.code, d.source, d.status, d.investigation, d.outcome, d.version) for d in flow.rows(Deviation, lot=lot)]
    return batch.status, results, devs


def qc_signatures():
    return [(s.record_id, s.user_name) for s in flow.rows(Signature, record_type="qc_result", meaning="verified")]


def dev_signatures():
    return [(s.record_id, s.user_name) for s in flow.rows(Signature, record_type="deviation", meaning="approved")]


def filled(lab_):
    """Receipt, start and every step: the batch awaits QC."""
    ok(flow.receive(lab_))
    ok(flow.start(lab_))
    flow.record_steps(lab_)
    assert flow.row(Batch, lot=LOT).status == "awaiting_qc"


def assert_qc_form_keeps(resp, values, tested_on="2026-11-23", reason=""):
    for code, value in values.items():
        assert input_value(resp, f"qc_{code}") == value, code
    assert input_value(resp, "tested_on") == tested_on
    assert input_value(resp, "method") == "QC lab"
    assert input_value(resp, "reason") == reason


def investigate(browser, investigation, outcome, reason="", code=DEV, version=None):
    dev = flow.row(Deviation, code=code)
    p = f"dev-{code}"
    return browser.post(
        f"/batches/{LOT}/deviations/{code}",
        {
            f"{p}-version": f"{LOT}/{code}@{dev.version if version is None else version}",
            f"{p}-investigation": investigation,
            f"{p}-outcome": outcome,
            f"{p}-reason": reason,
        },
        token_from=f"/batches/{LOT}",
    )


def close(browser, code=DEV, password=None):
    dev = flow.row(Deviation, code=code)
    return flow.sign(
        browser,
        f"/batches/{LOT}/deviations/{code}/close",
        f"close-{code}",
        f"/batches/{LOT}",
        version=f"{LOT}/{code}@{dev.version}",
        **({"password": password} if password else {}),
    )


def with_purity_deviation(lab_, purity="98.99"):
    filled(lab_)
    ok(flow.enter_qc(lab_, values={**QC_PASS, "PURITY": purity}))
    assert [(d.code, d.source, d.status) for d in flow.rows(Deviation, lot=LOT)] == [(DEV, "qc", "open")]


# --- typed numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["1.2e13", "1.2x10^13", "1.2×10¹³", "1.2*10^13", "1.2 × 10^13"])
def test_count_accepted_as_people_type_it(app, mfg, typed):
    filled(mfg)
    ok(flow.enter_qc(mfg, values={"COUNT": typed}))
    [r] = flow.rows(QcResult, lot=LOT)
    assert (r.item_code, r.value, r.in_spec) == ("COUNT", "1.2 × 10^13", True)
    row = qc_row(page_text(mfg.tech.get(f"/batches/{LOT}")), "COUNT")
    assert "1.2 × 10^13 /10 mL" in row and "pass" in row
    assert flow.row(Batch, lot=LOT).status == "awaiting_qc"  # 1 of 7 results


@pytest.mark.parametrize(
    "code,typed,allowed",
    [
        ("COUNT", "abc", "a number in /10 mL, e.g. 1.2e13 or 1.2x10^13"),
        ("COUNT", "1,2e13", "a number in /10 mL, e.g. 1.2e13 or 1.2x10^13"),
        ("PURITY", "high", "a number in %"),
        ("CDIFF", "maybe", "negative / positive"),
        ("APPEARANCE", "ok", "conforms / does not conform"),
    ],
)
def test_unreadable_result_refused_and_nothing_stored(app, mfg, code, typed, allowed):
    filled(mfg)
    before = qc_state()
    values = {**QC_PASS, code: typed}
    resp = flow.enter_qc(mfg, values=values)
    err = refused(resp, 422, f'"{typed}" is not a valid result ({allowed}).')
    assert COUNT in err if code == "COUNT" else True
    assert_qc_form_keeps(resp, values)
    assert qc_state() == before == ("awaiting_qc", [], [])


# --- judgement against the spec ---------------------------------------------------------------------


@pytest.mark.parametrize("purity,in_spec", [("98.99", False), ("99.0", True), ("99", True)])
def test_purity_boundary(app, mfg, purity, in_spec):
    filled(mfg)
    ok(flow.enter_qc(mfg, values={"PURITY": purity}))
    [r] = flow.rows(QcResult, lot=LOT)
    assert r.in_spec is in_spec
    devs = flow.rows(Deviation, lot=LOT)
    row = qc_row(page_text(mfg.tech.get(f"/batches/{LOT}")), "PURITY")
    if in_spec:
        assert devs == [] and "pass" in row
    else:
        assert [(d.code, d.source, d.status, d.qc_result_id) for d in devs] == [(DEV, "qc", "open", r.id)]
        assert "98.99" in devs[0].description and "out of specification" in devs[0].description
        assert "fail: out of specification" in row
    # the batch goes to quarantine once every result is in, out of specification or not
    assert flow.row(Batch, lot=LOT).status == "awaiting_qc"
    ok(flow.enter_qc(mfg, values={k: v for k, v in QC_PASS.items() if k != "PURITY"}))
    assert flow.row(Batch, lot=LOT).status == "quarantine"
    assert len(flow.rows(QcResult, lot=LOT)) == 7
    assert len(flow.rows(Deviation, lot=LOT)) == (0 if in_spec else 1)


# --- corrections ------------------------------------------------------------------------------------


def test_correction_needs_a_reason_and_is_judged_again(app, mfg):
    filled(mfg)
    ok(flow.enter_qc(mfg))
    assert flow.row(Batch, lot=LOT).status == "quarantine"
    before = qc_state()

    resp = flow.enter_qc(mfg, values={"PURITY": "98.5"}, reason="  ")
    refused(resp, 422, f"{PURITY} already have a result: give a reason for the correction.")
    assert input_value(resp, "qc_PURITY") == "98.5"
    assert qc_state() == before

    ok(flow.enter_qc(mfg, values={"PURITY": "98.5"}, reason="transcription error"))
    r = flow.row(QcResult, lot=LOT, item_code="PURITY")
    assert (r.value, r.in_spec, r.version) == ("98.5", False, 2)
    trail = [a for a in audit_rows(app, entity="qc_result", record_id=f"{LOT}/QC-PURITY") if a.field == "value"]
    assert trail[-1].old_value == "99.5" and trail[-1].new_value == "98.5" and trail[-1].reason == "transcription error"
    assert [(d.source, d.status, d.qc_result_id) for d in flow.rows(Deviation, lot=LOT)] == [("qc", "open", r.id)]

    ok(flow.enter_qc(mfg, values={"PURITY": "99.2"}, reason="re-test"))
    r = flow.row(QcResult, lot=LOT, item_code="PURITY")
    assert (r.value, r.in_spec) == ("99.2", True)
    assert "pass" in qc_row(page_text(mfg.tech.get(f"/batches/{LOT}")), "PURITY")
    # back in specification does not close the deviation: QA does
    assert [d.status for d in flow.rows(Deviation, lot=LOT)] == ["open"]


def test_qc_before_the_fill_refused(app, mfg):
    ok(flow.receive(mfg))
    ok(flow.start(mfg))
    flow.record_steps(mfg, upto=6)
    before = qc_state()
    resp = flow.enter_qc(mfg)
    refused(resp, 422, "QC results are entered after the fill and before release")
    assert qc_state() == before == ("in_process", [], [])


@pytest.mark.parametrize(
    "tested_on,message",
    [
        ("2026-11-24", "The test date 2026-11-24 is in the future."),
        ("2026-11-22", "The test date is before the production day 2026-11-23."),
        ("", "Enter the test date."),
    ],
)
def test_test_date_refused(app, mfg, tested_on, message):
    filled(mfg)
    before = qc_state()
    resp = flow.enter_qc(mfg, tested_on=tested_on)
    refused(resp, 422, message)
    if tested_on:
        assert_qc_form_keeps(resp, QC_PASS, tested_on=tested_on)
    else:
        for code, value in QC_PASS.items():
            assert input_value(resp, f"qc_{code}") == value
    assert qc_state() == before == ("awaiting_qc", [], [])


# --- verification (four-eyes) -------------------------------------------------------------------------


def test_enterer_cannot_verify_qc(app, mfg):
    filled(mfg)
    ok(flow.enter_qc(mfg))
    before = qc_state()
    resp = flow.verify_qc(mfg, who=mfg.tech)
    refused(resp, 422, "Four-eyes")
    assert qc_signatures() == [] and qc_state() == before
    assert "You entered or corrected these QC results: another person verifies them." in page_text(
        mfg.tech.get(f"/batches/{LOT}")
    )
    resp = flow.sign(
        mfg.tech2,
        f"/batches/{LOT}/verify-qc",
        "verify_qc",
        f"/batches/{LOT}",
        password="wrong-one",
        comment="reports checked",
    )
    refused(resp, 422, "the password is not correct")
    assert textarea_value(resp, "verify_qc-comment") == "reports checked"
    assert qc_signatures() == []
    ok(flow.verify_qc(mfg))
    assert qc_signatures() == [(f"{LOT}/QC-{c}", "Chen Jing") for c in QC_PASS]


def test_corrector_cannot_verify_the_corrected_result(app, mfg):
    filled(mfg)
    ok(flow.enter_qc(mfg))
    ok(flow.verify_qc(mfg))
    ok(flow.enter_qc(mfg, values={"VOLUME": "121"}, reason="re-measured", who=mfg.tech2))
    refused(flow.verify_qc(mfg, who=mfg.tech2), 422, "Four-eyes")
    refused(flow.verify_qc(mfg, who=mfg.tech), 422, "Four-eyes")  # tech1 entered it
    ok(flow.verify_qc(mfg, who=mfg.qa))
    assert (f"{LOT}/QC-VOLUME", "Li Na") in qc_signatures()


# --- deviations ----------------------------------------------------------------------------------------


def test_deviation_investigated_then_closed_by_qa(app, mfg):
    with_purity_deviation(mfg)
    before = qc_state()
    refused(close(mfg.qa), 422, f"Record the investigation and the outcome before closing deviation {DEV}.")
    assert qc_state() == before and dev_signatures() == []

    ok(investigate(mfg.tech, "plate count repeated", "result confirmed; batch to be rejected"))
    dev = flow.row(Deviation, code=DEV)
    assert (dev.investigation, dev.outcome, dev.status) == (
        "plate count repeated",
        "result confirmed; batch to be rejected",
        "open",
    )

    before = qc_state()
    resp = investigate(mfg.tech, "plate count repeated twice", "result confirmed; batch to be rejected")
    refused(resp, 422, "A reason is required to change the investigation or outcome.")
    assert textarea_value(resp, f"dev-{DEV}-investigation") == "plate count repeated twice"
    assert qc_state() == before
    ok(
        investigate(
            mfg.tech, "plate count repeated twice", "result confirmed; batch to be rejected", reason="second repeat"
        )
    )
    assert flow.row(Deviation, code=DEV).investigation == "plate count repeated twice"

    resp = mfg.tech.post(
        f"/batches/{LOT}/deviations/{DEV}/close",
        {
            f"close-{DEV}-password": "Correct-Horse-Battery-9",
            f"close-{DEV}-version": str(flow.row(Deviation, code=DEV).version),
        },
        token_from=f"/batches/{LOT}",
    )
    forbidden(resp)
    assert flow.row(Deviation, code=DEV).status == "open" and dev_signatures() == []

    ok(close(mfg.qa))
    assert flow.row(Deviation, code=DEV).status == "closed"
    assert dev_signatures() == [(f"{LOT}/{DEV}", "Li Na")]
    page = page_text(mfg.qa.get(f"/batches/{LOT}"))
    assert "Closed by" in page and "Li Na" in page
    # closed is final
    refused(investigate(mfg.tech, "x", "y", reason="late edit"), 422, f"Deviation {DEV} is closed.")
    refused(close(mfg.qa2), 422, f"Deviation {DEV} is already closed.")
    assert dev_signatures() == [(f"{LOT}/{DEV}", "Li Na")]


def test_qa_who_wrote_the_investigation_cannot_close(app, mfg):
    with_purity_deviation(mfg)
    ok(investigate(mfg.qa, "assay control failed", "re-test ordered"))
    before = qc_state()
    refused(close(mfg.qa), 422, "Four-eyes")
    assert qc_state() == before and flow.row(Deviation, code=DEV).status == "open"
    assert dev_signatures() == []
    refused(close(mfg.qa2, password="wrong-one"), 422, "the password is not correct")
    assert qc_state() == before
    ok(close(mfg.qa2))
    assert flow.row(Deviation, code=DEV).status == "closed"
    assert dev_signatures() == [(f"{LOT}/{DEV}", "Zhou Min")]


def test_stale_investigation_form_refused(app, mfg):
    with_purity_deviation(mfg)
    ok(investigate(mfg.tech, "first look", "pending"))
    before = qc_state()
    resp = investigate(mfg.tech2, "my own view", "pending", reason="update", version=1)
    assert resp.status_code == 409, page_text(resp)[:3000]
    assert "changed by Zhang Wei" in error_of(resp)
    assert textarea_value(resp, f"dev-{DEV}-investigation") == "my own view"
    assert qc_state() == before


def test_manual_deviation_opened_by_technician(app, mfg):
    filled(mfg)
    resp = mfg.tech.post(f"/batches/{LOT}/deviations", {"dev-description": ""}, token_from=f"/batches/{LOT}")
    refused(resp, 400, "Describe the deviation.")
    assert flow.rows(Deviation, lot=LOT) == []
    ok(
        mfg.tech.post(
            f"/batches/{LOT}/deviations",
            {"dev-description": "freezer door alarm during fill"},
            token_from=f"/batches/{LOT}",
        )
    )
    assert [(d.code, d.source, d.status) for d in flow.rows(Deviation, lot=LOT)] == [(DEV, "manual", "open")]


def test_investigation_author_cannot_close_after_another_edit(app, mfg):
    with_purity_deviation(mfg)
    ok(investigate(mfg.qa, "assay control failed", "re-test ordered"))
    ok(investigate(mfg.tech, "assay control failed", "re-test ordered; result confirmed", reason="re-test done"))
    resp = close(mfg.qa)
    refused(resp, 422, "Four-eyes")
    assert flow.row(Deviation, code=DEV).status == "open" and dev_signatures() == []
    ok(close(mfg.qa2))
    assert dev_signatures() == [(f"{LOT}/{DEV}", "Zhou Min")]
