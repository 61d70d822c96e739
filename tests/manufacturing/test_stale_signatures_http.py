"""A signature is refused when the content changed since the signer opened the page (issue 16, item 8).

Before: a verify, review, reject or recall posted from a page opened before the record changed was accepted,
so a person signed content they never saw.
"""

from __future__ import annotations

import re

from lims.audit.models import Signature
from lims.manufacturing.models import Batch, BatchReview, BatchStep
from tests.conftest import PASSWORD, page_text
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT, ok

PAGE = f"/batches/{LOT}"


def opened(browser, prefix):
    """The hidden content fingerprint of one signature form, as the page showed it."""
    html = browser.get(PAGE).get_data(as_text=True)
    m = re.search(rf'name="{prefix}-content" type="hidden" value="([0-9a-f]+)"', html)
    assert m, f"no {prefix} signature form on the page"
    return m.group(1)


def sign_with(browser, url, prefix, content, **extra):
    data = {
        f"{prefix}-password": PASSWORD,
        f"{prefix}-comment": "",
        f"{prefix}-content": content,
        **{f"{prefix}-{k}": v for k, v in extra.items()},
    }
    return browser.post(url, data, token_from=PAGE)


def _correct_step(lab, position=2, minutes=18):
    step = flow.row(BatchStep, lot=LOT, position=position)
    data = flow.step_form(position, {"mesh_um": "2000, 500, 100"}, (9, 7), (9, minutes), prefix=f"fix{position}")
    data.update({f"fix{position}-version": str(step.version), f"fix{position}-reason": "end time misread"})
    return lab.tech.post(f"/batches/{LOT}/steps/{position}", data, token_from=PAGE)


def test_a_verification_over_steps_that_changed_since_the_page_opened_is_refused(app, mfg):
    ok(flow.receive(mfg))
    ok(flow.start(mfg))
    flow.record_steps(mfg, upto=3)
    seen = opened(mfg.tech2, "verify_steps")
    ok(_correct_step(mfg))
    before = len(flow.rows(Signature))
    r = sign_with(mfg.tech2, f"/batches/{LOT}/verify-steps", "verify_steps", seen)
    assert r.status_code == 409
    text = page_text(r)
    assert "changed since you opened it" in text and "review again" in text and "Zhang Wei" in text
    assert len(flow.rows(Signature)) == before
    # the page now carries the new content: signing after looking again works
    ok(sign_with(mfg.tech2, f"/batches/{LOT}/verify-steps", "verify_steps", opened(mfg.tech2, "verify_steps")))


def test_a_release_over_a_batch_that_moved_on_is_refused(app, mfg, clock):
    """A change after the page was opened: refused with who changed it, nothing signed."""
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    seen = opened(mfg.qa, "release")
    ok(flow.place(mfg.tech, f"{LOT}-01", "BOX-F1", "A1"))  # the record changes after the page was opened
    r = sign_with(mfg.qa, f"/batches/{LOT}/release", "release", seen)
    assert r.status_code == 409 and "changed since you opened it" in page_text(r) and "Zhang Wei" in page_text(r)
    assert flow.row(Batch, lot=LOT).status == "quarantine"


def test_a_recall_over_a_batch_that_moved_on_is_refused(app, mfg, clock):
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    seen = opened(mfg.qa, "recall")
    ok(flow.place(mfg.tech, f"{LOT}-01", "BOX-F1", "A1"))
    r = sign_with(mfg.qa, f"/batches/{LOT}/recall", "recall", seen, reason="supplier notice")
    assert r.status_code == 409 and "changed since you opened it" in page_text(r)
    assert flow.row(Batch, lot=LOT).status == "released"


def test_a_review_over_new_audit_rows_is_refused(app, mfg, clock):
    flow.to_quarantine(mfg)
    seen = opened(mfg.qa, "review")
    ok(flow.enter_qc(mfg, values={"PURITY": "99.6"}, reason="re-read the plate"))
    r = sign_with(mfg.qa, f"/batches/{LOT}/review", "review", seen)
    assert r.status_code == 409 and flow.rows(BatchReview) == []


def test_a_recall_or_reject_without_the_content_is_refused(app, mfg, clock):
    flow.to_quarantine(mfg)
    r = sign_with(mfg.qa, f"/batches/{LOT}/reject", "reject", "", reason="contaminated")
    assert r.status_code == 409 and flow.row(Batch, lot=LOT).status == "quarantine"
    r = sign_with(mfg.qa, f"/batches/{LOT}/reject", "reject", "0" * 64, reason="contaminated")
    assert r.status_code == 409 and flow.row(Batch, lot=LOT).status == "quarantine"
    ok(sign_with(mfg.qa, f"/batches/{LOT}/reject", "reject", opened(mfg.qa, "reject"), reason="contaminated"))
    assert flow.row(Batch, lot=LOT).status == "rejected"


def test_a_stale_verification_of_qc_results_is_refused(app, mfg):
    ok(flow.receive(mfg))
    ok(flow.start(mfg))
    flow.record_steps(mfg)
    ok(flow.enter_qc(mfg))
    seen = opened(mfg.tech2, "verify_qc")
    ok(flow.enter_qc(mfg, values={"COUNT": "1.3e13"}, reason="recount"))
    r = sign_with(mfg.tech2, f"/batches/{LOT}/verify-qc", "verify_qc", seen)
    assert r.status_code == 409 and "changed since you opened it" in page_text(r)


def test_a_stale_qc_correction_is_refused_not_overwritten(app, mfg):
    """Two technicians correct the same result from pages opened at the same version: the second is told."""
    ok(flow.receive(mfg))
    ok(flow.start(mfg))
    flow.record_steps(mfg)
    ok(flow.enter_qc(mfg))
    opened_versions = flow.qc_versions(mfg.tech)
    ok(flow.enter_qc(mfg, values={"COUNT": "1.3e13"}, reason="recount", versions=opened_versions))
    r = flow.enter_qc(mfg, values={"COUNT": "1.1e13"}, reason="my recount", who=mfg.tech2, versions=opened_versions)
    assert r.status_code == 409 and "changed by Zhang Wei" in page_text(r)
    from lims.manufacturing.models import QcResult

    assert flow.row(QcResult, lot=LOT, item_code="COUNT").value == "1.3 × 10^13"


def test_a_deviation_form_posted_against_another_deviation_is_refused(app, mfg):
    from lims.manufacturing.models import Deviation

    flow.to_quarantine(mfg)
    for text in ("Freezer door ajar", "Label printer jammed"):
        ok(mfg.tech.post(f"/batches/{LOT}/deviations", {"dev-description": text}, token_from=PAGE))
    first = flow.row(Deviation, code="DEV-2026-0001")
    p = "dev-DEV-2026-0002"
    r = mfg.tech.post(
        f"/batches/{LOT}/deviations/DEV-2026-0002",
        {
            f"{p}-version": f"{LOT}/DEV-2026-0001@{first.version}",
            f"{p}-investigation": "checked",
            f"{p}-outcome": "ok",
            f"{p}-reason": "",
        },
        token_from=PAGE,
    )
    assert r.status_code == 409 and "opened for another record" in page_text(r)
    assert flow.row(Deviation, code="DEV-2026-0002").investigation is None
