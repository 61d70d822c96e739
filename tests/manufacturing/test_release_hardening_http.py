"""Release past expiry, labels and scans of expired units, and the fresh-product release basis (issue 16, items 2-3).

Before: release had no expiry blocker, a RELEASED label printed for an expired unit, and a fresh batch could
never be released (release needed a screening sampled after the donation, and fresh product expires that day).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from pypdf import PdfReader

from lims.manufacturing.models import Batch, BatchDisposition, DoseUnit
from tests.conftest import PASSWORD, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import DONATION_DAY, lab
from tests.manufacturing.flow import LOT, ok

EXPIRES = datetime(2027, 5, 23, 16, 0, tzinfo=UTC)  # frozen: donation + 6 months, from 2027-05-24 00:00 lab
UNIT = f"{LOT}-01"


def _quarantined_and_reviewed(mfg, clock):
    flow.to_quarantine(mfg)
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))


def _at(clock, mfg, when):
    clock.set(when)
    flow.relogin(mfg)


def test_a_batch_cannot_be_released_at_its_expiry(app, mfg, clock):
    _quarantined_and_reviewed(mfg, clock)
    _at(clock, mfg, EXPIRES)
    page = page_text(mfg.qa.get(f"/batches/{LOT}"))
    assert "The batch expired at 2027-05-24 00:00" in page
    r = flow.release(mfg.qa)
    assert r.status_code == 422 and "an expired batch is never released" in page_text(r)
    assert flow.row(Batch, lot=LOT).status == "quarantine"
    assert flow.rows(BatchDisposition) == []
    assert {u.status for u in flow.rows(DoseUnit, lot=LOT)} == {"quarantine"}


def test_a_batch_is_released_in_the_last_second_before_its_expiry(app, mfg, clock):
    _quarantined_and_reviewed(mfg, clock)
    _at(clock, mfg, EXPIRES - timedelta(seconds=1))
    ok(flow.release(mfg.qa))
    assert flow.row(Batch, lot=LOT).status == "released"


def _print(browser, code, layout="tube_50x30"):
    return browser.post(
        "/labels/print",
        {"kind": "DU", "code": code, "layout": layout, "format": "pdf", "reason": "test"},
        token_from=f"/units/{code}",
        headers={"Referer": f"http://localhost/units/{code}"},
    )


def test_an_expired_unit_is_shown_scanned_and_labelled_as_expired_before_the_job_marks_it(app, mfg, clock):
    _quarantined_and_reviewed(mfg, clock)
    ok(flow.release(mfg.qa))
    r = _print(mfg.tech, UNIT, "dosebag_100x60")
    assert r.status_code == 200 and "RELEASED" in PdfReader(io.BytesIO(r.data)).pages[0].extract_text()
    _at(clock, mfg, EXPIRES)
    assert flow.row(DoseUnit, code=UNIT).status == "available"  # stored: the expiry job has not run
    page = page_text(mfg.tech.get(f"/units/{UNIT}"))
    assert 'id="unit-status">expired' in page.replace("\n", "") or ">expired<" in page
    assert "stored as available" in page and "Do not use: The unit expired at 2027-05-24 00:00" in page
    r = _print(mfg.tech, UNIT, "dosebag_100x60")
    assert r.status_code == 302
    assert "printed only for released dose units in date" in page_text(mfg.tech.get(r.headers["Location"]))
    r = _print(mfg.tech, UNIT)
    text = PdfReader(io.BytesIO(r.data)).pages[0].extract_text()
    assert r.status_code == 200 and "EXPIRED" in text and "DO NOT USE" in text and "RELEASED" not in text
    body = mfg.tech.get(f"/scan/resolve?code=LIMS:DU:{UNIT}").get_json()
    assert body["status"] == "expired" and body["usable"] is False and body["do_not_use"] is True
    batch_page = page_text(mfg.tech.get(f"/batches/{LOT}"))
    assert batch_page.count("The unit expired at 2027-05-24 00:00") == 6


def test_a_recalled_unit_prints_recalled_do_not_use(app, mfg, clock):
    _quarantined_and_reviewed(mfg, clock)
    ok(flow.release(mfg.qa))
    ok(flow.sign(mfg.qa2, f"/batches/{LOT}/recall", "recall", f"/batches/{LOT}", reason="supplier notice"))
    text = PdfReader(io.BytesIO(_print(mfg.tech, UNIT).data)).pages[0].extract_text()
    assert "RECALLED" in text and "DO NOT USE" in text


def _fresh_batch(mfg):
    ok(flow.receive(mfg))
    ok(flow.start(mfg))
    flow.record_steps(mfg, upto=6)
    ok(flow.record_step(mfg, 7, fields={"dose_count": "3", "unit_volume_ml": "120", "storage": "fresh"}))
    ok(flow.verify_steps(mfg))
    ok(flow.enter_qc(mfg))
    ok(flow.verify_qc(mfg))


def test_a_fresh_batch_is_released_the_day_it_is_made(app, mfg, clock):
    """Release basis of fresh product: the decision in force on the donation day and that day's passed check."""
    clock.set(lab(DONATION_DAY, 11, 0))
    flow.relogin(mfg)
    _fresh_batch(mfg)
    page = page_text(mfg.qa.get(f"/batches/{LOT}"))
    assert "fresh product is given the day it is made" in page
    assert "Donor eligible on 2026-11-23 by the decision of 2026-11-12" in page
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    assert flow.row(Batch, lot=LOT).status == "released"
    assert {u.status for u in flow.rows(DoseUnit, lot=LOT)} == {"available"}


def test_a_frozen_batch_still_waits_for_the_re_screen(app, mfg, clock):
    flow.to_quarantine(mfg)
    page = page_text(mfg.qa.get(f"/batches/{LOT}"))
    assert "quarantine lasts until the donor passes a screening whose samples were all taken after the donation" in page
    ok(flow.review(mfg.qa))
    r = flow.release(mfg.qa)
    assert r.status_code == 422 and "is not yet cleared" in page_text(r)


def test_a_fresh_batch_of_a_donor_suspended_after_the_donation_is_not_released(app, mfg, clock):
    from lims.donors import operations as donor_ops
    from tests.manufacturing.conftest import act

    clock.set(lab(DONATION_DAY, 11, 0))
    flow.relogin(mfg)
    _fresh_batch(mfg)
    act("qa1", lambda s, u: donor_ops.suspend(s, donor_ops.get(s, "D-0001"), "ESBL positive in a late result"))
    ok(flow.review(mfg.qa))
    r = flow.release(mfg.qa)
    assert r.status_code == 422 and "Donor D-0001 is suspended (ESBL positive in a late result)" in page_text(r)
    assert flow.row(Batch, lot=LOT).status == "quarantine"


def test_wrong_password_on_release_stores_nothing(app, mfg, clock):
    _quarantined_and_reviewed(mfg, clock)
    r = flow.release(mfg.qa, password=PASSWORD + "x")
    assert r.status_code == 422 and flow.row(Batch, lot=LOT).status == "quarantine"
