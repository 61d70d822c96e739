"""Manufacturing in the browser: a donation processed through the batch record to the QA release signature.

The live server runs on the real system clock, so every time is computed from
"now" in the lab's zone (Asia/Shanghai). The donation is collected two days
ago: then a re-screening sampled yesterday and approved today clears the donor
(every sample taken after the donation day), and every step time of the batch
record is safely in the past.

The lab is set up through the same operations the screens use (donor,
screenings, donation-day check, device approval, storage), on the live
server's database. The work itself is done in the browser:

- technician 1 receives the donation (the donor code typed like a scanner,
  then Enter), starts the batch, records the 7 steps in order and enters QC;
- technician 2 verifies the steps and the QC results by signature (the
  four-eyes rule: technician 1 is shown that another person verifies) and
  stores a dose unit in a box position;
- QA reads what still blocks release, the donor is cleared by a re-screening,
  QA signs the audit-trail review and then the release.

A QA officer whose language is Simplified Chinese opens the batch page in
quarantine and after release (screenshots *_zh.png).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from lims.clock import utcnow
from lims.db import Actor, transaction
from lims.manufacturing.rules import add_months
from lims.timefmt import to_lab
from tests.manufacturing.conftest import STORAGE, act, day_check, local, pass_screening

from .conftest import ACCOUNTS, PASSWORD, Account
from .helpers import login, login_as, logout, shot

pytestmark = pytest.mark.browser

DEVICE = "EQ-GFM-01"
BOX = "BOX-F1"
BOX_PATH = "SITE-T > FRZ-T > FRZ-T-R1 > BOX-F1"
# A second QA officer who reads the screens in Simplified Chinese; she also approved the device.
QA_ZH = Account("qa2", "Zhou Min", ("qa",))

# The batch record, as typed: (end time on the donation day, {field label: value}).
# Step 1 (homogenisation) starts when processing started (09:00); each later step starts when the previous ended.
STARTED = (9, 0)
STEPS = [
    ("Homogenisation", (9, 7), {"Diluent": "0.9 % saline", "Volume (mL)": "1000"}),
    ("Multi-stage microfiltration", (9, 19), {"Mesh size of each stage (µm, coarse to fine)": "2000, 500, 100"}),
    ("Centrifugation wash 1", (9, 26), {"g-force (× g)": "1100", "Minutes": "3", "Temperature (°C)": "25"}),
    ("Centrifugation wash 2", (9, 33), {"g-force (× g)": "1100", "Minutes": "3", "Temperature (°C)": "25"}),
    ("Centrifugation wash 3", (9, 41), {"g-force (× g)": "1100", "Minutes": "3", "Temperature (°C)": "25"}),
    (
        "Final resuspension",
        (9, 50),
        {"Volume (mL)": "800", "Diluent": "0.9 % saline", "Cryoprotectant": "glycerol", "Cryoprotectant (%)": "10"},
    ),
    (
        "Fill into dose units",
        (9, 58),
        {"Number of dose units": "6", "Volume per unit (mL)": "120", "Storage": "frozen"},
    ),
]
# What the batch record table shows for each recorded step.
SHOWN = [
    "Diluent: 0.9 % saline; 1000 mL",
    "Stages: 2000 → 500 → 100 µm (3)",
    "1100 × g, 3 min, 25 °C",
    "1100 × g, 3 min, 25 °C",
    "1100 × g, 3 min, 25 °C",
    "800 mL 0.9 % saline, glycerol 10 %",
    "6 units × 120 mL, frozen, -80 °C",
]
QC = {
    "PURITY": "99.5",
    "COUNT": "1.2×10¹³",
    "CDIFF": "negative",
    "ENTERIC": "negative",
    "MDRO": "negative",
    "VOLUME": "120",
    "APPEARANCE": "conforms",
}
NO_REVIEW = "You have not recorded your review of this batch's audit trail."
NO_REVIEW_ANY = "No QA officer has recorded the audit-trail review of this batch."


@dataclass(frozen=True)
class MfgLab:
    donor: str
    today: date
    donation_day: date


# --- set-up through the operations (on the live server's database) -------------------------------


def _pass_screening(donor_code: str, sample_day: date, decided_on: date) -> int:
    """Entered by tech, verified by tech2, approved by the clinician (the browser accounts)."""
    return pass_screening(donor_code, sample_day, decided_on, staff=("tech", "tech2", "clin"), password=PASSWORD)


def _day_check(donor_code: str, day: date) -> None:
    assert day_check(donor_code, day, by="clin").passed


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _ensure_staff_spec_device_storage(today: date) -> None:
    from lims.auth.operations import create_user, find_user
    from lims.equipment import operations as eq_ops
    from lims.manufacturing import storage
    from lims.manufacturing.models import StorageLocation
    from lims.manufacturing.spec import seed_default_spec

    with transaction(Actor(None, "test setup")) as s:
        seed_default_spec(s)  # no-op when the spec exists
        if find_user(s, QA_ZH.username) is None:
            create_user(
                s, QA_ZH.username, QA_ZH.full_name, list(QA_ZH.roles), QA_ZH.password, "zh_CN", must_change=False
            )

    def device(s, u):
        eq = eq_ops.by_code(s, DEVICE)
        if eq is None:
            eq = eq_ops.create(
                s,
                DEVICE,
                {
                    "name": "GenFMTer purification device",
                    "kind": "purification_device",
                    "location": "GMP suite A",
                    "serial_number": "GFM-2024-0017",
                    "status": "in_service",
                    "calibration_due": today + timedelta(days=200),
                    "notes": None,
                },
            )
        return eq.id, eq.version

    eq_id, version = act("tech", device)
    from lims.audit.signatures import current_signature

    def approve(s, u):
        eq = eq_ops.get(s, eq_id)
        if current_signature(s, eq, "approved") is None:
            eq_ops.approve(s, eq, f"{eq_id}@{version}", u, PASSWORD, "IQ/OQ reviewed", "test setup")

    act(QA_ZH.username, approve)
    for code, kind, parent, rows, cols in STORAGE:

        def make(s, u, code=code, kind=kind, parent=parent, rows=rows, cols=cols):
            if s.exec(select(StorageLocation).where(StorageLocation.code == code)).first() is None:
                storage.create_location(
                    s, {"code": code, "name": code, "kind": kind, "parent": parent, "rows": rows, "cols": cols}
                )

        act("tech", make)


@pytest.fixture
def mfg_lab(live_server) -> MfgLab:
    """A donor eligible two days ago who passed that day's donation-day check, the approved device, storage."""
    from lims.donors import operations as donor_ops

    with live_server.app.app_context():
        today = to_lab(utcnow()).date()
        donation_day = today - timedelta(days=2)
        _ensure_staff_spec_device_storage(today)
        registered = today - timedelta(days=20)
        code = act(
            "clin",
            lambda s, u: (
                donor_ops.register(
                    s,
                    {
                        "sex": "male",
                        "date_of_birth": _years_before(today, 22) - timedelta(days=40),
                        "height_cm": "176.0",
                        "weight_kg": "66.5",
                        "measured_on": registered,
                        "notes": None,
                    },
                    {"full_name": "Zhao Yu", "national_id": "32010620040314123X", "phone": ""},
                    registered,
                ).code
            ),
        )
        _pass_screening(code, today - timedelta(days=16), today - timedelta(days=14))
        _day_check(code, donation_day)
    return MfgLab(donor=code, today=today, donation_day=donation_day)


# --- browser steps ---------------------------------------------------------------------------------


def _status(page: Page, text: str) -> None:
    """The success message of the last action (and no error on the page)."""
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(text)


def _sign(form, password: str) -> None:
    form.get_by_label("Your password").fill(password)
    form.get_by_role("button", name="Sign").click()


def _blockers(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#blockers li").all_inner_texts()]


def _receive_donation(page: Page, lab: MfgLab) -> str:
    """Donations -> the receipt form, the donor code typed last like a scanner (its Enter submits)."""
    page.locator("nav.mainnav").get_by_role("link", name="Donations").click()
    expect(page).to_have_url(re.compile(r"/donations/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Donations")
    form = page.locator("#receive-form")
    donor_field = form.get_by_label("Donor code (scan or type)")
    expect(donor_field).to_be_focused()  # the page gives the scanner's field the focus
    form.get_by_label("Collected at").fill(local(lab.donation_day, 8, 0))
    form.get_by_label("Received in the lab at").fill(local(lab.donation_day, 8, 25))
    form.get_by_label("Temperature on receipt (°C)").fill("4.0")
    form.get_by_label("Stool mass (g)").fill("152.5")
    form.get_by_label("Bristol stool form").select_option("4")
    form.get_by_label("Appearance").fill("brown, formed, no blood or mucus")
    form.get_by_label("Retained sample (2 mL) stored at").fill("FRG-T retained-sample rack, slot 12")
    donor_field.click()
    page.keyboard.type(lab.donor)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/donations/DN-\d{8}-\d{2}$"))
    code = page.url.rsplit("/", 1)[1]
    assert code.startswith(f"DN-{lab.donation_day:%Y%m%d}-")
    _status(page, f"Donation {code} received from donor {lab.donor}.")
    return code


def _start_batch(page: Page, lab: MfgLab, donation: str) -> str:
    # The list shows the new donation; its page is where processing starts.
    page.locator("nav.mainnav").get_by_role("link", name="Donations").click()
    row = page.locator("table.grid tbody tr", has=page.get_by_role("link", name=donation, exact=True))
    expect(row).to_contain_text(lab.donor)
    expect(row.locator(".badge")).to_have_text("received")
    row.get_by_role("link", name=donation, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Donation {donation}")
    expect(page.locator("#donation-status")).to_have_text("received")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(f"{lab.donation_day.isoformat()} 08:00 CST")
    expect(facts).to_contain_text(f"{lab.donation_day.isoformat()} 14:00 CST")  # processing must start by (6 h)
    expect(facts).to_contain_text("FRG-T retained-sample rack, slot 12")
    form = page.locator("#start-form")
    form.get_by_label("Purification device").select_option(DEVICE)
    form.get_by_label("Device run number").fill("GFM-RUN-0412")
    form.get_by_label("Processing (homogenisation) started at").fill(local(lab.donation_day, *STARTED))
    form.get_by_role("button", name="Start batch").click()
    expect(page).to_have_url(re.compile(r"/batches/FMT-\d{8}-\d{2}$"))
    lot = page.url.rsplit("/", 1)[1]
    assert lot.startswith(f"FMT-{lab.donation_day:%Y%m%d}-")
    _status(page, f"Batch {lot} started from donation {donation}.")
    expect(page.locator("#batch-status")).to_have_text("in process")
    expect(page.locator("dl.facts")).to_contain_text(f"{DEVICE} · run GFM-RUN-0412")
    return lot


def _record_step(page: Page, lab: MfgLab, position: int) -> None:
    label, end, fields = STEPS[position - 1]
    section = page.locator("#next-step")
    expect(section.get_by_role("heading", level=2)).to_have_text(f"Record step {position}: {label}")
    if position == 1:
        started = section.locator(".field", has=page.locator("label", has_text="Started at"))
        expect(started.locator("span")).to_have_text(f"{lab.donation_day.isoformat()} 09:00 CST")
    else:  # the start is proposed as the end of the previous step
        previous_end = STEPS[position - 2][1]
        expect(section.get_by_label("Started at", exact=True)).to_have_value(local(lab.donation_day, *previous_end))
    for name, value in fields.items():
        box = section.get_by_label(name, exact=True)
        if name == "Storage":
            box.select_option(value)
        else:
            box.fill(value)
    section.get_by_label("Ended at", exact=True).fill(local(lab.donation_day, *end))
    section.get_by_role("button", name="Record step").click()
    _status(page, f"{label} recorded.")
    row = page.locator(f"#steps tr[data-position='{position}']")
    expect(row).to_have_class("step-done")
    expect(row).to_contain_text(SHOWN[position - 1])
    expect(row.locator(".badge")).to_have_text("not verified")


def _enter_qc(page: Page, lab: MfgLab) -> None:
    form = page.locator("#qc-form")
    for code, value in QC.items():
        form.locator(f"input[name='qc_{code}']").fill(value)
    expect(form.get_by_label("Test date")).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))  # today, proposed
    form.get_by_label("Method / laboratory").fill("GMP QC laboratory")
    form.get_by_role("button", name="Save QC results").click()
    _status(page, "7 QC result(s) saved.")
    count = page.locator("#qc tr[data-code='COUNT']")
    expect(count).to_contain_text("1.2 × 10^13 /10 mL")
    expect(page.locator("#qc tbody .badge.ok", has_text="pass")).to_have_count(7)
    expect(page.locator("#qc tbody .badge.warn", has_text="not verified")).to_have_count(7)


# --- the test ----------------------------------------------------------------------------------------


def test_batch_from_receipt_to_release(page: Page, live_server, mfg_lab: MfgLab):
    lab = mfg_lab
    tech, tech2, qa = ACCOUNTS["tech"], ACCOUNTS["tech2"], ACCOUNTS["qa"]
    expiry = add_months(lab.donation_day, 6)
    not_cleared = (
        f"Donor {lab.donor} is not yet cleared: no passed screening with every sample taken after the "
        f"donation of {lab.donation_day.isoformat()}."
    )

    # Technician 1: receipt, start, the 7 steps in order, QC entry.
    login_as(page, tech)
    donation = _receive_donation(page, lab)
    lot = _start_batch(page, lab, donation)
    batch_url = page.url
    expect(page.locator("#steps tr.step-next")).to_have_attribute("data-position", "1")
    expect(page.locator("#steps tr.step-todo")).to_have_count(6)
    for position in range(1, 6):
        _record_step(page, lab, position)
    expect(page.locator("#enrichment")).to_contain_text("41 min (limit 60 min)")
    expect(page.locator("#enrichment .badge")).to_have_text("within the limit")
    expect(page.locator("#batch-status")).to_have_text("in process")
    expect(page.locator("#blockers")).to_contain_text(
        "Steps not yet recorded: Final resuspension, Fill into dose units."
    )
    shot(page, "batch_in_process")
    for position in (6, 7):
        _record_step(page, lab, position)
    expect(page.locator("#batch-status")).to_have_text("awaiting QC")
    expect(page.locator("#next-step")).to_have_count(0)
    expect(page.locator("dl.facts")).to_contain_text(f"frozen, -80 °C · expires {expiry.isoformat()}")
    units = page.locator("#units tbody tr")
    expect(units).to_have_count(6)
    expect(page.locator("#units tbody .badge")).to_have_text(["quarantine"] * 6)
    expect(units.first).to_contain_text(f"{lot}-01")
    # The recorder may not verify their own steps.
    expect(page.locator("#verify-steps")).to_contain_text(
        "You recorded or corrected these steps: another person verifies them."
    )
    expect(page.locator("#verify-steps form.signature")).to_have_count(0)
    _enter_qc(page, lab)
    expect(page.locator("#batch-status")).to_have_text("quarantine")
    expect(page.locator("#verify-qc")).to_contain_text(
        "You entered or corrected these QC results: another person verifies them."
    )
    expect(page.locator("#verify-qc form.signature")).to_have_count(0)
    logout(page)

    # Technician 2: verifies the steps and the QC results by signature, stores a unit.
    login_as(page, tech2)
    page.goto(batch_url)
    verify_steps = page.locator("#verify-steps")
    expect(verify_steps.get_by_role("heading", level=2)).to_have_text(
        "7 step(s) wait for verification by a second person"
    )
    expect(verify_steps.locator("form.signature")).to_contain_text(f"Signer: {tech2.full_name} ({tech2.username})")
    _sign(verify_steps, tech2.password)
    expect(page).to_have_url(batch_url)
    _status(page, "7 step(s) verified; your signature is recorded.")
    expect(page.locator("#steps tbody .badge.ok")).to_have_count(7)
    expect(page.locator("#steps tbody tr").first).to_contain_text(f"verified {tech2.full_name}")
    expect(page.locator("#verify-steps")).to_have_count(0)
    verify_qc = page.locator("#verify-qc")
    expect(verify_qc.locator(".statement")).to_contain_text("I checked the 7 QC result(s) not yet verified")
    _sign(verify_qc, tech2.password)
    _status(page, "7 QC result(s) verified; your signature is recorded.")
    expect(page.locator("#qc tbody .badge.ok", has_text="verified")).to_have_count(7)
    expect(page.locator("#verify-qc")).to_have_count(0)
    first_unit = page.locator(f"#units tr[data-unit='{lot}-01']")
    first_unit.get_by_label("Box").fill(BOX)
    first_unit.get_by_label("Position").fill("A1")
    first_unit.get_by_role("button", name="Store").click()
    expect(page).to_have_url(batch_url)
    _status(page, f"Unit {lot}-01 stored at {BOX_PATH} / A1.")
    expect(page.locator(f"#units tr[data-unit='{lot}-01']")).to_contain_text(f"{BOX_PATH} / A1")
    expect(page.locator(f"#units tr[data-unit='{lot}-02']")).to_contain_text("not in storage")
    # Other roles read the blockers without "you": no QA officer has reviewed the trail yet.
    assert _blockers(page) == [not_cleared, NO_REVIEW_ANY]
    logout(page)

    # QA: the batch waits in quarantine for the donor's clearance and QA's own review.
    login_as(page, qa)
    page.locator("nav.mainnav").get_by_role("link", name="Batches").click()
    page.get_by_role("link", name=lot, exact=True).click()
    expect(page).to_have_url(batch_url)
    expect(page.locator("#batch-status")).to_have_text("quarantine")
    expect(page.locator("#release-panel h2")).to_have_text("What still blocks release")
    assert _blockers(page) == [not_cleared, NO_REVIEW]
    expect(page.locator("#release-panel form[action$='/release']")).to_have_count(0)
    expect(page.locator("#release-panel")).to_contain_text(
        f"quarantine lasts until the donor passes a screening whose samples were all taken after the donation of "
        f"{lab.donation_day.isoformat()}."
    )
    expect(page.get_by_text("You have not reviewed this trail yet.")).to_be_visible()
    shot(page, "batch_quarantine")
    logout(page)

    # The same page for a QA officer who reads Simplified Chinese.
    login(page, QA_ZH.username, QA_ZH.password)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"欢迎，{QA_ZH.full_name}")
    page.goto(batch_url)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_contain_text(lot)
    expect(page.locator("#blockers li")).to_have_count(2)
    expect(page.locator("form[action$='/review'] button[type='submit']")).to_have_text("签名")
    shot(page, "batch_quarantine_zh")
    page.locator("header").locator("form.inline button[type='submit']").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    # The sign-in page keeps the last user's language; the next user switches it back.
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.locator("p.langs").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The donor passes a re-screening sampled after the donation day (yesterday), approved today.
    with live_server.app.app_context():
        _pass_screening(lab.donor, lab.today - timedelta(days=1), lab.today)

    # QA: the audit-trail review, then the release, each by signature.
    login_as(page, qa)
    page.goto(batch_url)
    assert _blockers(page) == [NO_REVIEW]
    expect(page.locator("#release-panel")).to_contain_text(
        f"Donor cleared by the screening decided on {lab.today.isoformat()} "
        f"(first sample {(lab.today - timedelta(days=1)).isoformat()}, after the donation)."
    )
    review = page.locator("form[action$='/review']")
    expect(review.locator(".statement")).to_contain_text(f"I reviewed the audit trail of batch {lot}")
    _sign(review, qa.password)
    expect(page).to_have_url(batch_url)
    expect(page.get_by_role("status")).to_have_text(re.compile(r"^Audit-trail review recorded \(\d+ entries\)\.$"))
    expect(page.locator("#blockers")).to_have_count(0)
    expect(page.locator("#release-panel h2")).to_have_text("Ready for release")
    expect(page.get_by_text(re.compile(r"Your last review covered the trail up to entry #\d+"))).to_be_visible()
    release = page.locator("#release-panel form[action$='/release']")
    expect(release.locator("legend")).to_have_text("Electronic signature: released")
    expect(release.locator(".statement")).to_contain_text(f"I release batch {lot}")
    _sign(release, qa.password)
    expect(page).to_have_url(batch_url)
    _status(page, f"Batch {lot} released; its dose units are available.")
    expect(page.locator("#batch-status")).to_have_text("released")
    expect(page.locator("#release-panel")).to_have_count(0)
    expect(page.locator("#units tbody .badge")).to_have_text(["available"] * 6)
    expect(page.locator(f"#units tr[data-unit='{lot}-01']")).to_contain_text(f"{BOX_PATH} / A1")
    decision = page.locator("table.grid tr.sig-valid", has_text=qa.full_name)
    expect(decision).to_have_count(1)
    expect(decision).to_contain_text("released")
    expect(page.get_by_text("Recall this batch")).to_be_visible()
    shot(page, "batch_released")
    # The donation reads as processed into this batch.
    page.locator("dl.facts").get_by_role("link", name=donation, exact=True).click()
    expect(page.locator("#donation-status")).to_have_text("processed into a batch")
    expect(page.locator("p.status-line").get_by_role("link", name=lot, exact=True)).to_be_visible()
    logout(page)

    # And the released batch in Chinese.
    login(page, QA_ZH.username, QA_ZH.password)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"欢迎，{QA_ZH.full_name}")
    page.goto(batch_url)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#units tbody tr")).to_have_count(6)
    shot(page, "batch_released_zh")
