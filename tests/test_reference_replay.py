"""The reference study replayed over HTTP with a movable clock (issue 16, "Done when").

Donor D-0001 (eligible from the screening decided on 2026-11-12) gives twice on 2026-11-23: a fresh batch is
released and given to P-0001 the same day; a frozen batch waits in quarantine. A verification from a page
opened before a correction is refused. The next day the re-screening's ESBL culture is typed in as positive:
the donor is suspended at once, the donation-day check and the next donation are refused, a lookback case
opens. Months later the frozen batch has expired and cannot be released.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from lims.clinical import courses
from lims.clinical.course_models import Administration
from lims.db import Actor, transaction
from lims.donors.models import Donor
from lims.lookback.models import LookbackCase
from lims.manufacturing.models import Batch, BatchStep, Donation, DoseUnit
from tests.clinical.conftest import P4, administer, issue, plan, register, reserve
from tests.conftest import PASSWORD, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import DONATION_DAY, fast_password_hashing, lab, local, mfg  # noqa: F401
from tests.manufacturing.flow import QC_PASS, ok

FRESH, FROZEN = "FMT-20261123-01", "FMT-20261123-02"
ALL_NO = {f"dd_{c}": "no" for c in ("DD_GI_SYMPTOMS", "DD_FEVER", "DD_ANTIBIOTICS", "DD_TRAVEL", "DD_NEW_RISK")}


def _content(browser, page, prefix):
    html = browser.get(page).get_data(as_text=True)
    return re.search(rf'name="{prefix}-content" type="hidden" value="([^"]*)"', html).group(1)


def _batch(mfg, donation, lot, storage, run):
    ok(flow.start(mfg, donation=donation, run=run))
    for position in range(1, 7):
        ok(flow.record_step(mfg, position, lot=lot))
    fill = {"dose_count": "3" if storage == "fresh" else "6", "unit_volume_ml": "120", "storage": storage}
    ok(flow.record_step(mfg, 7, lot=lot, fields=fill))


def test_the_reference_study_replayed(app, mfg, clock):
    clock.set(lab(DONATION_DAY, 10, 30))
    flow.relogin(mfg)
    # Two donations of the day; the donor's label is scanned into the receipt form.
    ok(flow.receive(mfg, donor="LIMS:DO:D-0001"))
    ok(flow.receive(mfg, donor="LIMS:DO:D-0001", retained_location="rack R2"))
    _batch(mfg, "DN-20261123-01", FRESH, "fresh", "RUN-1")
    _batch(mfg, "DN-20261123-02", FROZEN, "frozen", "RUN-2")

    # A stale verification: Chen Jing opened the page before Zhang Wei corrected step 2.
    page = f"/batches/{FRESH}"
    seen = _content(mfg.tech2, page, "verify_steps")
    step = flow.row(BatchStep, lot=FRESH, position=2)
    fix = flow.step_form(2, {"mesh_um": "2000, 500, 150"}, (9, 7), (9, 19), prefix="fix2")
    fix.update({"fix2-version": str(step.version), "fix2-reason": "last mesh misread"})
    ok(mfg.tech.post(f"/batches/{FRESH}/steps/2", fix, token_from=page))
    stale = mfg.tech2.post(
        f"/batches/{FRESH}/verify-steps",
        {"verify_steps-password": PASSWORD, "verify_steps-comment": "", "verify_steps-content": seen},
        token_from=page,
    )
    assert stale.status_code == 409 and "changed since you opened it" in page_text(stale)
    for lot in (FRESH, FROZEN):
        ok(flow.verify_steps(mfg, lot=lot))
        ok(flow.enter_qc(mfg, lot=lot, values=QC_PASS))
        ok(flow.verify_qc(mfg, lot=lot))

    # The fresh batch is released the day it is made, on the donation-day basis ...
    ok(flow.review(mfg.qa, lot=FRESH))
    ok(flow.release(mfg.qa, lot=FRESH))
    assert flow.row(Batch, lot=FRESH).status == "released"
    # ... while the frozen one waits for a re-screen sampled after the donation.
    ok(flow.review(mfg.qa, lot=FROZEN))
    r = flow.release(mfg.qa, lot=FROZEN)
    assert r.status_code == 422 and "is not yet cleared" in page_text(r)

    # P-0001 is given a fresh unit the same day.
    with transaction(Actor(None, "seed")) as s:
        courses.seed_default_template(s)
    assert register(mfg.nurse, P4) == "P-0001"
    ok(plan(mfg.nurse, "P-0001", DONATION_DAY))
    dose, unit = "P-0001-C1-D1", f"{FRESH}-01"
    ok(reserve(mfg.nurse, dose, unit))
    ok(issue(mfg.tech, unit))
    clock.set(lab(DONATION_DAY, 12, 5))
    flow.relogin(mfg)
    given = administer(
        mfg.nurse, dose, unit, local(DONATION_DAY, 12, 0), **{"give-tube_date": DONATION_DAY.isoformat()}
    )
    assert given.status_code == 302, page_text(given)[:3000]
    assert flow.row(Administration, code=dose).status == "given"
    assert flow.row(DoseUnit, code=unit).status == "administered"

    # Next day: the re-screening's ESBL culture is typed in as positive.
    day2 = date(2026, 11, 24)
    clock.set(lab(day2, 9, 0))
    flow.relogin(mfg)
    ok(mfg.nurse.post("/donors/D-0001/screenings", {}, token_from="/donors/D-0001"))
    sc = re.search(r"/screenings/(\d+)", page_text(mfg.nurse.get("/donors/D-0001"))).group(1)
    r = mfg.tech.post(
        f"/screenings/{sc}/results",
        {
            "panel-sample_date": day2.isoformat(),
            "panel-method": "central lab",
            "panel-reason": "",
            "v_S_ESBL": "positive",
        },
        token_from=f"/screenings/{sc}",
    )
    assert r.status_code == 302, page_text(r)[:3000]
    donor = flow.row(Donor, code="D-0001")
    assert donor.status == "suspended" and "ESBL" in donor.status_reason
    r = mfg.nurse.post("/donors/D-0001/donation-day", ALL_NO, token_from="/donors/D-0001")
    assert r.status_code == 422 and "suspended" in page_text(r)
    day2_receipt = {**flow.RECEIPT, "collected_at": local(day2, 8, 0), "received_at": local(day2, 8, 30)}
    r = mfg.tech.post("/donations/", day2_receipt, token_from="/donations/")
    assert r.status_code == 422 and "suspended" in page_text(r)
    assert len(flow.rows(Donation)) == 2
    [case] = flow.rows(LookbackCase)
    assert case.status == "open" and case.donor_id == donor.id

    # Half a year on, the frozen batch has expired: it is never released.
    clock.set(datetime(2027, 5, 24, 1, 0, tzinfo=UTC))
    flow.relogin(mfg)
    r = flow.release(mfg.qa, lot=FROZEN)
    assert r.status_code == 422 and "an expired batch is never released" in page_text(r)
    assert flow.row(Batch, lot=FROZEN).status == "quarantine"
    assert "EXPIRED" in page_text(mfg.tech.get(f"/units/{FROZEN}-01")).upper()
