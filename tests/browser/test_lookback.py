"""A lookback in the browser: QA opens a case for a released batch, signs the hold, and closes it unfounded.

The lab is set up through the operations (as in test_administration.py): a
released frozen batch of a new donor in its own box, one unit reserved and
issued for a recipient's day-1 dose. In the browser QA
- opens a case by hand for the batch from the Lookback page (a finding dated
  tomorrow is refused and what was typed survives);
- reads the case: every donation of the donor in the scope table (a later, unprocessed donation excluded, and
  why), the donation in scope, the six units and the recipient holding one;
- widens the scope to the later donation, scanned, with a signed reason: it is in scope, "added by QA";
- signs the hold: the units not yet administered are recalled, the issued one
  leaves its dose;
- records a negative re-test of the retained sample and closes the case as
  unfounded: the batch is released again and the stored units are back in stock.
Screenshots: lookback_case.png, lookback_held.png, lookback_closed.png.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from lims.clock import utcnow
from lims.timefmt import to_lab
from tests.manufacturing.conftest import act

from .conftest import ACCOUNTS, PASSWORD
from .helpers import login_as, shot
from .test_administration import _course_with_issued_day1, _ensure_box, _recipient, _released_lot
from .test_manufacturing import _ensure_staff_spec_device_storage, _years_before

pytestmark = pytest.mark.browser
BOX = "BOX-LB1"
LOT_FACTS = {
    "sex": "female",
    "years": 23,
    "name": "Zhou Lan",
    "id_prefix": "LBK",
    "run": "GFM-RUN-LBK",
    "mass_g": "158.0",
}


def _statuses(app, lot):
    from lims.manufacturing.models import Batch, DoseUnit

    with app.app_context():
        return act(
            "qa",
            lambda s, u: (
                s.exec(select(Batch.status).where(Batch.lot == lot)).one(),
                [x.status for x in s.exec(select(DoseUnit).where(DoseUnit.lot == lot).order_by(DoseUnit.seq)).all()],
            ),
        )


def _received_today(donor: str, today) -> str:
    """A second donation of the donor, collected 20 minutes ago and not processed."""
    from lims.donors import operations as donor_ops
    from lims.manufacturing import donations

    from .test_manufacturing import _day_check

    now = utcnow()
    _day_check(donor, to_lab(now - timedelta(minutes=20)).date())
    return act(
        "tech",
        lambda s, u: (
            donations.receive(
                s,
                donor_ops.get(s, donor),
                {
                    "collected_at": now - timedelta(minutes=20),
                    "received_at": now - timedelta(minutes=5),
                    "receipt_temp_c": "4.0",
                    "mass_g": "150.0",
                    "bristol": 4,
                    "appearance": "brown, formed",
                    "retained_location": "FRG-T retained-sample rack",
                },
                u,
                utcnow(),
            ).code
        ),
    )


def test_qa_holds_a_batch_from_a_lookback_case_and_releases_it_when_unfounded(page: Page, live_server):
    with live_server.app.app_context():
        today = to_lab(utcnow()).date()
        _ensure_staff_spec_device_storage(today)
        _ensure_box(BOX)
        _donor, lot, units = _released_lot(today, BOX, LOT_FACTS)
        patient = _recipient(
            today,
            {
                "sex": "male",
                "date_of_birth": _years_before(today, 62) - timedelta(days=30),
                "diagnosis": "Renal clear cell carcinoma",
                "metastasis_sites": "intestine",
                "ecog": 2,
                "prior_lines": 2,
            },
            "Huang Gang",
        )
        dose = _course_with_issued_day1(patient, units[0], today)
        later = _received_today(_donor, today)

    login_as(page, ACCOUNTS["qa"])
    page.locator("nav.mainnav").get_by_role("link", name="Lookback", exact=True).click()
    page.get_by_text("Open a case by hand").click()
    page.get_by_label("or batch (lot)").fill(lot)
    page.get_by_label("Date of the finding (sample or report)").fill(str(today + timedelta(days=1)))
    reason = f"Recipient {patient} reported bloody diarrhoea; the batch is traced back for testing."
    page.get_by_label("Reason (what was found, by whom)").fill(reason)
    page.get_by_role("button", name="Open the case").click()
    expect(page.locator(".flash-error")).to_contain_text("The date of the finding is in the future.")
    expect(page.get_by_label("or batch (lot)")).to_have_value(lot)
    expect(page.get_by_label("Reason (what was found, by whom)")).to_have_value(reason)
    page.get_by_label("Date of the finding (sample or report)").fill(str(today))
    page.get_by_role("button", name="Open the case").click()
    expect(page.get_by_role("status")).to_contain_text("opened")
    code = re.search(r"/lookback/(LB-\d{4}-\d{4})$", page.url).group(1)
    reach = page.locator("#lookback-reach")
    for u in units:
        expect(reach).to_contain_text(u)
    expect(page.locator("#lookback-recipients")).to_contain_text(patient)
    expect(page.locator("#lookback-recipients")).to_contain_text(dose)
    # Every donation of the donor, in scope or excluded, and why.
    scope = page.locator("#lookback-scope-table")
    expect(scope.locator("tr", has_text=later)).to_contain_text("excluded")
    expect(scope.locator("tr", has_text=later)).to_contain_text(
        "the case was opened for another batch of the donor only"
    )
    expect(scope.locator("tr", has_text=lot)).to_contain_text("the batch named when the case was opened")
    shot(page, "lookback_case")

    # QA widens the scope to the later donation (scanned label), signed with a reason.
    page.get_by_text("Widen the scope to further donations or batches").click()
    widen = page.locator("#widen")
    widen.get_by_label("Donations or batches to add").fill(f"LIMS:DN:{later}")
    widen.get_by_label("Reason for widening the scope").fill(
        "Given after the batch named: hold it too until the re-test."
    )
    widen.get_by_label("Your password").fill(PASSWORD)
    widen.get_by_role("button", name="Sign and widen the scope").click()
    expect(page.get_by_role("status")).to_contain_text(f"Scope widened: {later} added")
    row = page.locator("#lookback-scope-table").locator("tr", has_text=later)
    expect(row).to_contain_text("in scope")
    expect(row).to_contain_text("added by QA")
    expect(page.locator("#lookback-reach")).to_contain_text(later)
    shot(page, "lookback_widened")

    # The signed hold.
    hold = page.locator("#hold")
    expect(hold).to_contain_text("6 dose units not yet administered")
    expect(hold).to_contain_text("1 unprocessed donations")
    hold.get_by_label("Reason for the hold").fill("Precautionary hold pending the retained-sample re-test")
    hold.get_by_label("Your password").fill(PASSWORD)
    hold.get_by_role("button", name="Sign the hold").click()
    expect(page.get_by_role("status")).to_contain_text("Hold signed: 6 units recalled")
    assert _statuses(live_server.app, lot) == ("on_hold", ["recalled"] * 6)
    expect(page.locator("#lookback-reach")).to_contain_text("on hold (lookback)")
    shot(page, "lookback_held")

    # A negative re-test, then the close as unfounded.
    page.get_by_text("Record a re-test").click()
    retest = page.locator("#retest")
    retest.get_by_label("Retained sample of donation").select_option(index=1)
    retest.get_by_label("Test", exact=True).fill("Stool culture, Shigella/Salmonella/STEC PCR")
    retest.get_by_label("Result").select_option("negative")
    retest.get_by_label("Laboratory").fill("hospital central laboratory")
    retest.get_by_role("button", name="Record the re-test").click()
    expect(page.get_by_role("status")).to_contain_text("Re-test of")
    close = page.locator("#close")
    close.get_by_label("Unfounded", exact=False).check()
    close.get_by_label("Conclusion").fill(
        "Retained sample negative; the recipient's diarrhoea was C. difficile-negative "
        "and attributed to the co-therapy."
    )
    close.get_by_label("Your password").fill(PASSWORD)
    close.get_by_role("button", name="Sign and close").click()
    expect(page.get_by_role("status")).to_contain_text("Lookback case closed as unfounded.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("closed: unfounded")
    status, unit_statuses = _statuses(live_server.app, lot)
    # Released again: stored units back in stock; the one issued to the ward stays recalled.
    assert status == "released" and unit_statuses == ["recalled"] + ["available"] * 5
    expect(page.locator("#lookback-timeline")).to_contain_text("Closed as unfounded")
    shot(page, "lookback_closed")
    assert code.startswith("LB-")
