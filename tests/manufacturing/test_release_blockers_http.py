"""Release refused for each blocker, rejection and recall, through HTTP.

Each refusal checks the status code, the specific sentence (lims/manufacturing/explain.py)
and that nothing changed: the batch stays in quarantine, no disposition is stored, the units
stay in quarantine.
"""

from __future__ import annotations

import re
from datetime import date

from lims.audit.models import Signature
from lims.manufacturing.models import Batch, BatchDisposition, BatchStep, Deviation, DoseUnit
from tests.conftest import page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import pass_screening
from tests.manufacturing.flow import LOT, ok
from tests.manufacturing.pages import error_of

UNITS = [f"{LOT}-0{i}" for i in range(1, 7)]

DONOR_NOT_CLEARED = (
    "Donor D-0001 is not yet cleared: no passed screening with every sample taken after the donation of 2026-11-23."
)
NO_REVIEW = "You have not recorded your review of this batch's audit trail."
REVIEW_STALE = "The batch changed after your audit-trail review; review the new entries again."
PERFORMER = "You performed or verified steps or QC results of this batch; another QA officer must release it."
PURITY = "Bacterial purity"
APPEARANCE = "Appearance (homogeneous brown suspension, no visible particles)"


# --- helpers ------------------------------------------------------------------------------------


def blockers_on_page(browser, lot=LOT) -> list[str] | None:
    """The items of <ul id="blockers"> on the batch page; None when the page shows "Ready for release"."""
    page = page_text(browser.get(f"/batches/{lot}"))
    m = re.search(r'<ul class="reasons" id="blockers">(.*?)</ul>', page, re.S)
    if m is None:
        assert "Ready for release" in page
        return None
    assert "Ready for release" not in page
    return [" ".join(li.split()) for li in re.findall(r"<li[^>]*>(.*?)</li>", m.group(1), re.S)]


def batch_state(lot=LOT):
    batch = flow.row(Batch, lot=lot)
    units = flow.rows(DoseUnit, batch_id=batch.id)
    return batch.status, len(flow.rows(BatchDisposition, batch_id=batch.id)), [u.status for u in units]


def assert_untouched(lot=LOT, status="quarantine"):
    """The batch was not released: same status, no disposition, units still in quarantine."""
    assert batch_state(lot) == (status, 0, ["quarantine"] * 6)
    assert flow.rows(Signature, meaning="released") == []


def refused(resp, *sentences, status=422):
    assert resp.status_code == status, page_text(resp)[:3000]
    err = error_of(resp)
    assert f"Batch {LOT} cannot be released" in err
    for s in sentences:
        assert s in err, err
    return err


def to_quarantine(lab, verify_steps_by=None, qc=None, verify_qc=True):
    """Like flow.to_quarantine, with the verifier and QC values chosen by the test."""
    ok(flow.receive(lab))
    ok(flow.start(lab))
    flow.record_steps(lab)
    ok(flow.verify_steps(lab, who=verify_steps_by))
    ok(flow.enter_qc(lab, values=qc))
    if verify_qc:
        ok(flow.verify_qc(lab))


def correct_step(lab, position, fields, reason, who=None, lot=LOT):
    step = flow.row(BatchStep, lot=lot, position=position)
    end = flow.STEPS[position - 1][0]
    start = flow.STEPS[position - 2][0] if position > 1 else None
    data = flow.step_form(position, fields, start, end, prefix=f"fix{position}")
    data.update({f"fix{position}-version": str(step.version), f"fix{position}-reason": reason})
    return (who or lab.tech).post(f"/batches/{lot}/steps/{position}", data, token_from=f"/batches/{lot}")


def open_deviation(browser, description, lot=LOT):
    return browser.post(f"/batches/{lot}/deviations", {"dev-description": description}, token_from=f"/batches/{lot}")


def investigate(browser, code, investigation, outcome, reason="", lot=LOT):
    dev = flow.row(Deviation, code=code)
    p = f"dev-{code}"
    return browser.post(
        f"/batches/{lot}/deviations/{code}",
        {
            f"{p}-version": f"{lot}/{code}@{dev.version}",
            f"{p}-investigation": investigation,
            f"{p}-outcome": outcome,
            f"{p}-reason": reason,
        },
        token_from=f"/batches/{lot}",
    )


def close_deviation(browser, code, lot=LOT):
    dev = flow.row(Deviation, code=code)
    return flow.sign(
        browser,
        f"/batches/{lot}/deviations/{code}/close",
        f"close-{code}",
        f"/batches/{lot}",
        version=f"{lot}/{code}@{dev.version}",
    )


def reason_sign(browser, action, reason, lot=LOT):
    """Reject or recall: the reason and the signer's password."""
    return flow.sign(browser, f"/batches/{lot}/{action}", action, f"/batches/{lot}", reason=reason)


def released_batch(lab, clock):
    flow.to_quarantine(lab)
    flow.clear_donor(lab, clock)
    ok(flow.review(lab.qa))
    ok(flow.release(lab.qa))
    assert flow.row(Batch, lot=LOT).status == "released"


# --- one blocker at a time ------------------------------------------------------------------------


def test_donor_not_cleared_blocks_release(app, mfg, clock):
    flow.to_quarantine(mfg)
    ok(flow.review(mfg.qa))
    err = refused(flow.release(mfg.qa), DONOR_NOT_CLEARED)
    assert "is not yet cleared" in err
    assert NO_REVIEW not in err and REVIEW_STALE not in err and "Open deviations" not in err
    assert_untouched()
    assert blockers_on_page(mfg.qa) == [DONOR_NOT_CLEARED]
    # A screening sampled on the donation day does not clear it (every sample must be later).
    flow.clear_donor(mfg, clock, sample_day=flow.DONATION_DAY)
    refused(flow.release(mfg.qa), DONOR_NOT_CLEARED)
    assert_untouched()
    # A screening whose every sample was taken after the donation day clears it (same day: no sign-in again).
    pass_screening("D-0001", date(2026, 11, 24), date(2026, 11, 25))
    assert blockers_on_page(mfg.qa) is None
    ok(flow.release(mfg.qa))
    assert flow.row(Batch, lot=LOT).status == "released"


def test_no_review_blocks_release_and_another_officers_review_does_not_count(app, mfg, clock):
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    err = refused(flow.release(mfg.qa), NO_REVIEW)
    assert "You have not recorded your review" in err and "is not yet cleared" not in err
    assert_untouched()
    ok(flow.review(mfg.qa2))
    err = refused(flow.release(mfg.qa), NO_REVIEW)
    assert REVIEW_STALE not in err
    assert_untouched()
    assert blockers_on_page(mfg.qa) == [NO_REVIEW]
    assert blockers_on_page(mfg.qa2) is None
    # The officer who reviewed may release.
    ok(flow.release(mfg.qa2))
    assert batch_state()[0] == "released"


def test_review_stale_after_a_unit_is_stored_then_review_again(app, mfg, clock):
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    assert blockers_on_page(mfg.qa) is None
    ok(flow.place(mfg.tech, UNITS[0], "BOX-F1", "A1"))  # a new entry in the batch's trail
    err = refused(flow.release(mfg.qa), REVIEW_STALE)
    assert "changed after your audit-trail review" in err and NO_REVIEW not in err
    assert_untouched()
    assert blockers_on_page(mfg.qa) == [REVIEW_STALE]
    ok(flow.review(mfg.qa))
    assert blockers_on_page(mfg.qa) is None
    ok(flow.release(mfg.qa))
    assert batch_state()[0] == "released"


def test_review_stale_after_qc_correction_by_the_technician(app, mfg, clock):
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(flow.enter_qc(mfg, values={"PURITY": "99.6"}, reason="transcription error", tested_on="2026-11-24"))
    err = refused(flow.release(mfg.qa), REVIEW_STALE, f"QC results not verified by a second person: {PURITY}.")
    assert "out of specification" not in err
    assert_untouched()
    assert blockers_on_page(mfg.qa) == [f"QC results not verified by a second person: {PURITY}.", REVIEW_STALE]
    ok(flow.verify_qc(mfg))
    assert blockers_on_page(mfg.qa) == [REVIEW_STALE]  # the verification is a new entry too
    refused(flow.release(mfg.qa), REVIEW_STALE)
    assert_untouched()
    ok(flow.review(mfg.qa))
    assert blockers_on_page(mfg.qa) is None
    ok(flow.release(mfg.qa))
    assert batch_state()[0] == "released"


def test_review_stale_after_a_deviation_is_opened(app, mfg, clock):
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(open_deviation(mfg.tech, "Label printer jammed during fill."))
    refused(flow.release(mfg.qa), REVIEW_STALE, "Open deviations: DEV-2026-0001.")
    assert_untouched()
    assert blockers_on_page(mfg.qa) == ["Open deviations: DEV-2026-0001.", REVIEW_STALE]


def test_step_corrected_after_verification_blocks_release(app, mfg, clock):
    flow.to_quarantine(mfg)
    ok(correct_step(mfg, 2, {"mesh_um": "2000, 500, 150"}, "mesh of the last stage misread"))
    step = flow.row(BatchStep, lot=LOT, position=2)
    assert '"150"' in step.params
    assert flow.row(Batch, lot=LOT).status == "quarantine"
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    err = refused(flow.release(mfg.qa), "Steps not verified by a second person: Multi-stage microfiltration.")
    assert "Steps not verified" in err and "Homogenisation" not in err and REVIEW_STALE not in err
    assert_untouched()
    assert blockers_on_page(mfg.qa) == ["Steps not verified by a second person: Multi-stage microfiltration."]
    # The technician who corrected it cannot verify it; a second person can.
    resp = flow.verify_steps(mfg, who=mfg.tech)
    assert resp.status_code == 422 and "Four-eyes rule" in page_text(resp)
    ok(flow.verify_steps(mfg))
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    assert batch_state()[0] == "released"


def test_qc_not_verified_blocks_release(app, mfg, clock):
    to_quarantine(mfg, verify_qc=False)
    assert flow.row(Batch, lot=LOT).status == "quarantine"
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    err = refused(flow.release(mfg.qa), "QC results not verified by a second person:")
    assert "QC results not verified" in err and PURITY in err and APPEARANCE in err
    assert "out of specification" not in err and NO_REVIEW not in err
    assert_untouched()
    assert len(blockers_on_page(mfg.qa)) == 1


def test_qc_out_of_specification_blocks_release_with_its_deviation(app, mfg, clock):
    to_quarantine(mfg, qc={**flow.QC_PASS, "PURITY": "98.5"})
    dev = flow.row(Deviation, lot=LOT)
    assert (dev.code, dev.source, dev.status) == ("DEV-2026-0001", "qc", "open")
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    err = refused(
        flow.release(mfg.qa), f"QC results out of specification: {PURITY}.", "Open deviations: DEV-2026-0001."
    )
    assert "out of specification" in err and "not verified" not in err
    assert_untouched()
    assert blockers_on_page(mfg.qa) == [
        f"QC results out of specification: {PURITY}.",
        "Open deviations: DEV-2026-0001.",
    ]


def test_open_manual_deviation_blocks_release_until_closed_by_qa(app, mfg, clock):
    flow.to_quarantine(mfg)
    ok(open_deviation(mfg.tech, "Freezer door found ajar for 5 minutes."))
    dev = flow.row(Deviation, lot=LOT)
    assert (dev.code, dev.source, dev.status) == ("DEV-2026-0001", "manual", "open")
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    err = refused(flow.release(mfg.qa), "Open deviations: DEV-2026-0001.")
    assert REVIEW_STALE not in err and "is not yet cleared" not in err
    assert_untouched()
    assert blockers_on_page(mfg.qa) == ["Open deviations: DEV-2026-0001."]
    # Closing needs the investigation and outcome first.
    resp = close_deviation(mfg.qa2, "DEV-2026-0001")
    assert resp.status_code == 422 and "Record the investigation and the outcome" in page_text(resp)
    assert flow.row(Deviation, code="DEV-2026-0001").status == "open"
    ok(
        investigate(
            mfg.tech, "DEV-2026-0001", "Door alarm log reviewed; -78 C minimum.", "No impact; door seal replaced."
        )
    )
    ok(close_deviation(mfg.qa2, "DEV-2026-0001"))
    assert flow.row(Deviation, code="DEV-2026-0001").status == "closed"
    remaining = blockers_on_page(mfg.qa)
    assert not any("Open deviations" in b for b in remaining)
    assert remaining == [REVIEW_STALE]  # the investigation and closure are new entries of the trail
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    assert batch_state()[0] == "released"


def test_qa_who_verified_the_steps_cannot_release(app, mfg, clock):
    to_quarantine(mfg, verify_steps_by=mfg.qa)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    err = refused(flow.release(mfg.qa), PERFORMER)
    assert "another QA officer must release it" in err and "Steps not verified" not in err
    assert_untouched()
    assert blockers_on_page(mfg.qa) == [PERFORMER]
    ok(flow.review(mfg.qa2))
    assert blockers_on_page(mfg.qa2) is None
    ok(flow.release(mfg.qa2))
    assert batch_state()[0] == "released"
    sig = flow.row(Signature, meaning="released")
    assert sig.user_name == "Zhou Min"


def test_qa_who_verified_or_entered_qc_cannot_release(app, mfg, clock):
    ok(flow.receive(mfg))
    ok(flow.start(mfg))
    flow.record_steps(mfg)
    ok(flow.verify_steps(mfg))
    partial = {k: v for k, v in flow.QC_PASS.items() if k != "APPEARANCE"}
    ok(flow.enter_qc(mfg, values=partial))
    ok(flow.enter_qc(mfg, values={"APPEARANCE": "conforms"}, who=mfg.qa2))  # qa2 entered one QC result
    assert flow.row(Batch, lot=LOT).status == "quarantine"
    ok(flow.verify_qc(mfg, who=mfg.qa))  # qa1 verified the QC results
    flow.clear_donor(mfg, clock)
    for officer in (mfg.qa, mfg.qa2):
        ok(flow.review(officer))
        refused(flow.release(officer), PERFORMER)
        assert blockers_on_page(officer) == [PERFORMER]
    assert_untouched()


def test_qa_who_corrected_a_qc_result_stays_a_performer(app, mfg, clock):
    flow.to_quarantine(mfg)
    ok(flow.enter_qc(mfg, values={"PURITY": "99.7"}, reason="value transcribed wrongly", who=mfg.qa))
    ok(flow.enter_qc(mfg, values={"PURITY": "99.8"}, reason="second reading from the instrument"))
    ok(flow.verify_qc(mfg))
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    assert blockers_on_page(mfg.qa) == [PERFORMER]
    refused(flow.release(mfg.qa), PERFORMER)
    assert_untouched()


def test_release_with_wrong_password_is_refused(app, mfg, clock):
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    resp = flow.release(mfg.qa, password="Wrong-Horse-Battery-1")
    assert resp.status_code == 422
    assert "the password is not correct" in error_of(resp)
    assert_untouched()
    assert blockers_on_page(mfg.qa) is None
    ok(flow.release(mfg.qa))
    assert batch_state() == ("released", 1, ["available"] * 6)


def test_release_of_a_batch_awaiting_qc_is_refused(app, mfg, clock):
    partial = {k: v for k, v in flow.QC_PASS.items() if k != "APPEARANCE"}
    to_quarantine(mfg, qc=partial)
    assert flow.row(Batch, lot=LOT).status == "awaiting_qc"
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    err = refused(
        flow.release(mfg.qa),
        "The batch is awaiting QC; only a batch in quarantine can be released.",
        f"QC results missing: {APPEARANCE}.",
    )
    assert "only a batch in quarantine" in err
    assert batch_state() == ("awaiting_qc", 0, ["quarantine"] * 6)
    assert blockers_on_page(mfg.qa) == [
        "The batch is awaiting QC; only a batch in quarantine can be released.",
        f"QC results missing: {APPEARANCE}.",
    ]


def test_technician_cannot_release(app, mfg, clock):
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    resp = flow.release(mfg.tech)
    assert resp.status_code == 403
    assert_untouched()
    resp = flow.review(mfg.tech)
    assert resp.status_code == 403


def test_batch_page_lists_exactly_the_remaining_blockers(app, mfg, clock):
    flow.to_quarantine(mfg)
    assert blockers_on_page(mfg.qa) == [DONOR_NOT_CLEARED, NO_REVIEW]
    # Blockers are per officer: qa2 sees the same, a performer sees one more.
    assert blockers_on_page(mfg.qa2) == [DONOR_NOT_CLEARED, NO_REVIEW]
    flow.clear_donor(mfg, clock)
    assert blockers_on_page(mfg.qa) == [NO_REVIEW]
    ok(flow.review(mfg.qa))
    assert blockers_on_page(mfg.qa) is None
    page = page_text(mfg.qa.get(f"/batches/{LOT}"))
    assert 'action="/batches/FMT-20261123-01/release"' in page  # the release signature is offered
    assert blockers_on_page(mfg.qa2) == [NO_REVIEW]


# --- rejection and recall -------------------------------------------------------------------------


def test_reject_needs_a_reason_then_discards_every_unit(app, mfg, clock):
    flow.to_quarantine(mfg)
    ok(flow.place(mfg.tech, UNITS[0], "BOX-F1", "A1"))
    resp = reason_sign(mfg.qa, "reject", "")
    assert resp.status_code in (400, 422)
    assert "A reason is required" in page_text(resp)
    assert_untouched()
    assert flow.row(DoseUnit, code=UNITS[0]).position == "A1"
    assert flow.rows(Signature, meaning="rejected") == []
    resp = reason_sign(mfg.qa, "reject", "   ")
    assert resp.status_code in (400, 422)
    assert_untouched()

    reason = "Donor reported fever two days after donation."
    ok(reason_sign(mfg.qa, "reject", reason))
    batch = flow.row(Batch, lot=LOT)
    assert (batch.status, batch.status_reason) == ("rejected", reason)
    units = flow.rows(DoseUnit, batch_id=batch.id)
    assert {(u.status, u.status_reason, u.box_id, u.position) for u in units} == {("discarded", reason, None, None)}
    disp = flow.rows(BatchDisposition, batch_id=batch.id)
    assert [(d.decision, d.reason) for d in disp] == [("rejected", reason)]
    sigs = flow.rows(Signature, meaning="rejected")
    assert [(s.record_type, s.record_id, s.user_name) for s in sigs] == [
        ("batch_disposition", f"{LOT}/rejected-{disp[0].id}", "Li Na")
    ]

    # A rejected batch is never released, even with every other condition met.
    flow.clear_donor(mfg, clock)
    resp = flow.release(mfg.qa)
    assert resp.status_code == 422
    assert "The batch is rejected; only a batch in quarantine can be released." in error_of(resp)
    assert flow.row(Batch, lot=LOT).status == "rejected"
    assert len(flow.rows(BatchDisposition, batch_id=batch.id)) == 1
    assert flow.rows(Signature, meaning="released") == []


def test_recall_of_a_released_batch_recalls_its_units(app, mfg, clock):
    released_batch(mfg, clock)
    batch = flow.row(Batch, lot=LOT)
    resp = reason_sign(mfg.qa, "recall", "")
    assert resp.status_code in (400, 422)
    assert batch_state() == ("released", 1, ["available"] * 6)
    reason = "Donor tested positive for norovirus on follow-up."
    ok(reason_sign(mfg.qa, "recall", reason))
    batch = flow.row(Batch, lot=LOT)
    assert (batch.status, batch.status_reason) == ("recalled", reason)
    units = flow.rows(DoseUnit, batch_id=batch.id)
    assert {(u.status, u.status_reason) for u in units} == {("recalled", reason)}
    assert [d.decision for d in flow.rows(BatchDisposition, batch_id=batch.id)] == ["released", "recalled"]
    assert page_text(mfg.tech.get("/inventory")).count("2027-05-23") == 0
    resp = mfg.tech.post(
        f"/units/{UNITS[0]}/thaw", {"thaw-thawed_at": "2026-11-25T10:00"}, token_from=f"/units/{UNITS[0]}"
    )
    assert resp.status_code == 422 and f"Only released units are thawed; unit {UNITS[0]} is recalled." in error_of(resp)
    assert flow.row(DoseUnit, code=UNITS[0]).thawed_at is None
    # Recalled is final: neither rejected nor released again.
    resp = reason_sign(mfg.qa, "reject", "too late")
    assert resp.status_code == 422 and error_of(resp) == "A batch that is recalled cannot become rejected."
    assert flow.row(Batch, lot=LOT).status == "recalled"


def test_reject_of_a_released_batch_is_refused(app, mfg, clock):
    released_batch(mfg, clock)
    resp = reason_sign(mfg.qa, "reject", "Second thoughts.")
    assert resp.status_code == 422
    assert error_of(resp) == "A batch that is released cannot become rejected."
    assert batch_state() == ("released", 1, ["available"] * 6)
    assert flow.rows(Signature, meaning="rejected") == []


def test_recall_of_a_quarantined_batch_is_refused(app, mfg, clock):
    flow.to_quarantine(mfg)
    resp = reason_sign(mfg.qa, "recall", "Donor tested positive on follow-up.")
    assert resp.status_code == 422
    assert error_of(resp) == "A batch that is quarantine cannot become recalled."
    assert_untouched()
    assert flow.row(Batch, lot=LOT).status_reason is None
