"""Giving an FMT dose at the bedside, in the browser: wristband and unit scans, the wrong-patient stop, the record.

The lab is set up on the live server's database through the same operations
the screens use, as in test_scan_labels.py, and taken all the way to release:
a donation collected two days ago, the 7 steps of the batch record (technician
1) verified by technician 2, QC entered in specification and verified, the six
frozen units stored in a freezer box, the donor cleared by a re-screening
sampled yesterday (after the donation) and decided today, then QA's audit-trail
review and release. Two recipients each get a course (template WMT-NJ-D1D3)
with day 1 today; each day-1 dose has a unit reserved and issued from the lab
(the issue thaws the frozen unit now).

In the browser the clinician

- opens the recipient (the reference patient P4: a 75-year-old man, sigmoid
  colon adenocarcinoma with liver metastasis, ECOG 3, seven prior lines) and
  the day-1 dose from the course timeline;
- fills the bedside form keyboard-first, as with gloves and a scanner: the
  wristband payload and Enter move on to the next field (nothing is
  submitted), the check boxes are ticked with Space;
- scans the OTHER patient's unit: the record is refused with WRONG PATIENT,
  the dose stays planned and nothing typed is lost;
- scans the right unit and records the administration: given, unit administered;
- records the 120-minute observation with 38.4 °C and, from the dose, a
  CTCAE fever grade 1 adverse event, whose page traces it to the dose, the
  unit, the batch and the donor.

Screenshots: recipient_page.png, administration_refused.png,
administration_given.png, administration_observation.png, ae_form.png and
ae_recorded.png.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from lims.clock import utcnow
from lims.timefmt import to_lab
from tests.manufacturing import flow
from tests.manufacturing.conftest import act

from .conftest import ACCOUNTS, PASSWORD
from .helpers import active_id, login_as, shot
from .lots import filled_lot
from .test_manufacturing import _ensure_staff_spec_device_storage, _pass_screening, _years_before

pytestmark = pytest.mark.browser

BOX = "BOX-ADM1"  # this module's own freezer box (test_manufacturing stores into BOX-F1)
POSITIONS = ("A1", "A2", "A3", "B1", "B2", "B3")
TUBE_METHOD = "placed under gastroscopy; position confirmed by X-ray"
INSTRUCTIONS = ("Lie on the side or sit for at least 30 min after the infusion", "No food for 1 h after the infusion")
FEVER_G1 = "38.0 - 39.0 degrees C (100.4 - 102.2 degrees F)"
FEVER_G2 = ">39.0 - 40.0 degrees C (102.3 - 104.0 degrees F)"


@dataclass(frozen=True)
class Ward:
    today: date
    donor: str
    lot: str
    recipient: str  # P4, whose day-1 dose is given in the browser
    dose: str  # P4's day-1 dose (its unit is issued)
    unit: str  # the unit issued for that dose
    other: str  # a second recipient with its own course
    other_unit: str  # the unit issued for the other recipient's day 1
    app: object = None  # the live server's app, whose clock the scenario's times are read from


# --- set-up through the operations (on the live server's database) -------------------------------


def _ensure_box(box: str = BOX) -> None:
    from lims.manufacturing import storage
    from lims.manufacturing.models import StorageLocation

    def make(s, u):
        if s.exec(select(StorageLocation).where(StorageLocation.code == box)).first() is None:
            storage.create_location(
                s,
                {
                    "code": box,
                    "name": "Dose units, bedside tests",
                    "kind": "box",
                    "parent": "FRZ-T-R1",
                    "rows": 3,
                    "cols": 3,
                },
            )

    act("tech", make)


LOT_ADM = {"sex": "male", "years": 21, "name": "Qian Lei", "id_prefix": "ADM", "run": "GFM-RUN-ADM", "mass_g": "165.0"}


def _released_lot(today: date, box: str = BOX, lot_facts: dict = LOT_ADM) -> tuple[str, str, tuple[str, ...]]:
    """Donor, lot and unit codes of a batch donated two days ago and released today, stored in ``box``."""
    from lims.manufacturing import batches, qc, release, storage
    from lims.manufacturing.models import DoseUnit

    day = today - timedelta(days=2)
    donor, lot = filled_lot(today, **lot_facts)
    # Four eyes: technician 2 verifies the steps and the QC results technician 1 entered.
    act(
        "tech2",
        lambda s, u: batches.verify_steps(s, batches.get(s, lot), u, PASSWORD, "witnessed at the device", "test"),
    )
    act(
        "tech",
        lambda s, u: qc.record(
            s, batches.get(s, lot), flow.QC_PASS, day + timedelta(days=1), "microbiology QC laboratory", None, today
        ),
    )
    act("tech2", lambda s, u: qc.verify(s, batches.get(s, lot), u, PASSWORD, "checked against the QC reports", "test"))

    def store(s, u):
        for unit, position in zip(storage.units_of(s, batches.get(s, lot)), POSITIONS):
            storage.place(s, unit, box, position, "stored after fill")

    act("tech", store)
    # The re-screening, sampled after the donation day, clears the donor; QA (no part in the batch) releases.
    _pass_screening(donor, today - timedelta(days=1), today)
    act(
        "qa",
        lambda s, u: release.record_review(
            s, batches.get(s, lot), u, PASSWORD, "complete; no unexplained changes", "test"
        ),
    )
    act("qa", lambda s, u: release.release(s, batches.get(s, lot), u, PASSWORD, None, "test"))
    units = act(
        "tech",
        lambda s, u: tuple(
            x.code for x in s.exec(select(DoseUnit).where(DoseUnit.lot == lot).order_by(DoseUnit.seq)).all()
        ),
    )
    statuses = act("tech", lambda s, u: {x.status for x in s.exec(select(DoseUnit).where(DoseUnit.lot == lot)).all()})
    assert statuses == {"available"}, statuses
    assert len(units) == 6
    return donor, lot, units


def _recipient(today: date, facts: dict, name: str) -> str:
    from lims.clinical import recipients

    return act(
        "clin",
        lambda s, u: (
            recipients.register(
                s,
                {
                    "study": "WMT-TORI (FMT + toripalimab, exploratory)",
                    "stage": "IV",
                    "tnm": "",
                    "notes": None,
                    "consent_date": today - timedelta(days=10),
                    **facts,
                },
                {"full_name": name, "hospital_number": "H" + uuid.uuid4().hex[:12].upper(), "phone": ""},
                today,
            ).code
        ),
    )


def _course_with_issued_day1(recipient: str, unit: str, today: date) -> str:
    """Plan the course (day 1 today), reserve ``unit`` for day 1 (clinician), issue it (technician)."""
    from lims.clinical import courses, dispensing, recipients
    from lims.clinical.course_models import CourseTemplate

    def plan_and_reserve(s, u):
        courses.seed_default_template(s)  # no-op when seeded
        template = s.exec(
            select(CourseTemplate).where(CourseTemplate.code == "WMT-NJ-D1D3", CourseTemplate.status == "active")
        ).first()
        c = courses.plan(s, recipients.get(s, recipient), template.id, today, True, today)
        day1 = courses.administrations(s, c)[0]
        assert day1.day == 1 and day1.scheduled_date == today
        dispensing.reserve(s, day1, f"LIMS:DU:{unit}", utcnow())
        return day1.code

    dose = act("clin", plan_and_reserve)

    # Thawed, labelled (label scanned back) and issued three hours ago, so the infusion can be typed two hours
    # back and the 120-minute observation falls due now.
    def thaw_label_issue(s, u):
        from flask import current_app

        from lims.labels import printing, reconcile
        from lims.labels.layouts import all_layouts
        from lims.manufacturing import storage
        from lims.manufacturing.models import DoseUnit

        at = utcnow() - timedelta(hours=3)
        row = s.exec(select(DoseUnit).where(DoseUnit.code == unit)).one()
        storage.thaw(s, row, at, u, at)
        printing.print_labels(
            s, "DU", unit, all_layouts()["tube_50x30"], "pdf", "thawed for issue", current_app.config, now=at
        )
        reconcile.verify(s, row, f"LIMS:DU:{unit}", u, at)
        return dispensing.issue(s, f"LIMS:DU:{unit}", u, at, today).code

    issued = act("tech", thaw_label_issue)
    assert issued == dose
    return dose


class _AfterThreeAm:
    """The system clock, moved on past 03:00 lab time when the suite runs just after the lab's midnight: the
    scenario issues a unit 3 h back and types the infusion 2 h 15 min back for a dose due today, which must
    fall on one lab day whatever the wall clock says (the live server reads this clock in its own thread)."""

    def __init__(self):
        from lims.clock import SystemClock

        self.system = SystemClock()
        lab_now = to_lab(self.system.now())
        self.shift = timedelta(hours=max(0, 3 - lab_now.hour) + (1 if lab_now.hour < 3 else 0))

    def now(self):
        return self.system.now() + self.shift


@pytest.fixture(scope="module")
def ward(live_server) -> Ward:
    saved = live_server.app.extensions.get("clock")
    live_server.app.extensions["clock"] = _AfterThreeAm()
    try:
        yield _ward(live_server)
    finally:
        if saved is None:
            live_server.app.extensions.pop("clock", None)
        else:
            live_server.app.extensions["clock"] = saved


def _ward(live_server) -> Ward:
    with live_server.app.app_context():
        today = to_lab(utcnow()).date()
        _ensure_staff_spec_device_storage(today)
        _ensure_box()
        donor, lot, units = _released_lot(today)
        p4 = _recipient(
            today,
            {
                "sex": "male",
                "date_of_birth": _years_before(today, 75) - timedelta(days=40),
                "diagnosis": "Sigmoid colon adenocarcinoma",
                "metastasis_sites": "liver",
                "ecog": 3,
                "prior_lines": 7,
            },
            "Xu Ming",
        )
        other = _recipient(
            today,
            {
                "sex": "female",
                "date_of_birth": _years_before(today, 50) - timedelta(days=100),
                "diagnosis": "Right lung adenocarcinoma",
                "metastasis_sites": "lung, abdominal cavity, bone, liver",
                "ecog": 4,
                "prior_lines": 9,
            },
            "Ma Li",
        )
        dose = _course_with_issued_day1(p4, units[0], today)
        _course_with_issued_day1(other, units[1], today)
    return Ward(
        today=today,
        donor=donor,
        lot=lot,
        recipient=p4,
        dose=dose,
        unit=units[0],
        other=other,
        other_unit=units[1],
        app=live_server.app,
    )


# --- browser steps ---------------------------------------------------------------------------------


def _status(page: Page, text: str) -> None:
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(text)


def _scan_into(page: Page, payload: str) -> None:
    """What a keyboard-wedge scanner does in the focused field: the characters, then Enter."""
    page.keyboard.type(payload)
    page.keyboard.press("Enter")


def _focused(page: Page, field_id: str) -> None:
    expect(page.locator(f"#{field_id}")).to_be_focused()
    assert active_id(page) == field_id, f"focus is on {active_id(page)!r}, not {field_id!r}"


def test_bedside_administration_wrong_unit_refused_then_given_and_fever_ae(page: Page, ward: Ward):
    login_as(page, ACCOUNTS["clin"])
    posts: list[str] = []  # every form the browser posts from here on
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)

    # 1. Recipients -> P4 -> the course timeline -> day 1.
    page.locator("nav.mainnav").get_by_role("link", name="Recipients").click()
    expect(page).to_have_url(re.compile(r"/recipients/$"))
    page.locator("#recipients").get_by_role("link", name=ward.recipient, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/recipients/{ward.recipient}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Recipient {ward.recipient}")
    facts = page.locator("dl.facts").first
    expect(facts).to_contain_text("Sigmoid colon adenocarcinoma")
    expect(facts).to_contain_text("liver")
    course_code = ward.dose.rsplit("-D", 1)[0]
    course = page.locator("section.card", has=page.get_by_role("link", name=course_code, exact=True))
    expect(course.locator(".badge").first).to_have_text("planned")
    timeline = course.locator("table.timeline")
    expect(timeline.locator("tbody tr")).to_have_count(3)
    day1 = timeline.locator("tbody tr").first
    expect(day1).to_contain_text(ward.unit)
    expect(day1).to_contain_text("issued")
    expect(day1).to_contain_text(f"{ward.lot} · {ward.donor}")
    expect(day1.locator(".badge")).to_have_text("planned")
    expect(timeline.locator("tbody tr").nth(1)).to_contain_text("none reserved")
    shot(page, "recipient_page")
    timeline.get_by_role("link", name="Day 1", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/courses/doses/{ward.dose}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Dose {ward.dose}")
    expect(page.locator("#dose-status")).to_have_text("planned")
    expect(page.locator("#dose-unit")).to_contain_text(f"{ward.unit} · issued")
    expect(page.locator("#unit-check")).to_have_count(0)  # the issued unit checks out for this dose

    # 2. The bedside form, keyboard first. The wristband field has the focus (autofocus), not the scan box.
    page.wait_for_load_state("load")
    form = page.locator("form.bedside-form")
    _focused(page, "give-patient")
    _scan_into(page, f"LIMS:PT:{ward.recipient}")
    # Enter moved on to the next field and did not submit the half-filled record.
    _focused(page, "give-identity_confirmed")
    expect(form.get_by_label("Patient wristband (scan or type the recipient code)")).to_have_value(
        f"LIMS:PT:{ward.recipient}"
    )
    page.keyboard.press("Space")
    expect(form.get_by_label("Name and date of birth confirmed with the patient")).to_be_checked()
    page.keyboard.press("Tab")
    _focused(page, "give-tube_confirmed")
    page.keyboard.press("Space")
    expect(form.get_by_label("Nasojejunal tube placement confirmed")).to_be_checked()
    page.keyboard.press("Tab")
    _focused(page, "give-tube_date")
    # The date typed into Chromium's date field (en-US: month, day, year; each part moves on when complete).
    tube_day = ward.today - timedelta(days=1)
    page.keyboard.type(f"{tube_day:%m%d%Y}")
    expect(form.get_by_label("Tube placed on")).to_have_value(tube_day.isoformat())
    page.keyboard.press("Tab")
    _focused(page, "give-tube_method")
    page.keyboard.type(TUBE_METHOD)
    page.keyboard.press("Tab")
    _focused(page, "give-fasting")
    page.keyboard.press("Space")
    expect(form.get_by_label("Patient fasting")).to_be_checked()
    page.keyboard.press("Tab")
    _focused(page, "give-unit")
    # The OTHER patient's unit is scanned: Enter moves on, nothing is submitted yet.
    _scan_into(page, f"LIMS:DU:{ward.other_unit}")
    _focused(page, "give-given_at")
    expect(form.get_by_label("Volume given (mL)")).to_have_value("120.0")
    expect(form.get_by_label("Infusion started at")).not_to_have_value("")
    for text in INSTRUCTIONS:
        form.get_by_label(text).check()
    assert not posts, f"the bedside form was submitted before the button was pressed: {posts}"
    expect(page).to_have_url(re.compile(rf"/courses/doses/{ward.dose}$"))

    form.get_by_role("button", name="Record the administration").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(
        f"WRONG PATIENT: unit {ward.other_unit} is reserved for {ward.other}, not {ward.recipient}."
    )
    assert len(posts) == 1 and posts[0].endswith(f"/courses/doses/{ward.dose}/administer"), posts
    expect(page.locator("#dose-status")).to_have_text("planned")
    expect(page.locator("#dose-unit")).to_contain_text(f"{ward.unit} · issued")
    # Nothing typed is lost.
    form = page.locator("form.bedside-form")
    expect(form.get_by_label("Patient wristband (scan or type the recipient code)")).to_have_value(
        f"LIMS:PT:{ward.recipient}"
    )
    expect(form.get_by_label("Name and date of birth confirmed with the patient")).to_be_checked()
    expect(form.get_by_label("Nasojejunal tube placement confirmed")).to_be_checked()
    expect(form.get_by_label("Tube placed on")).to_have_value(tube_day.isoformat())
    expect(form.get_by_label("Placement method / confirmation")).to_have_value(TUBE_METHOD)
    expect(form.get_by_label("Patient fasting")).to_be_checked()
    expect(form.get_by_label("Dose unit (scan the label)")).to_have_value(f"LIMS:DU:{ward.other_unit}")
    for text in INSTRUCTIONS:
        expect(form.get_by_label(text)).to_be_checked()
    shot(page, "administration_refused")

    # 3. The right unit scanned over the wrong one, then the button.
    page.wait_for_load_state("load")
    unit_field = form.get_by_label("Dose unit (scan the label)")
    unit_field.click()
    page.keyboard.press("ControlOrMeta+A")
    _scan_into(page, f"LIMS:DU:{ward.unit}")
    _focused(page, "give-given_at")
    expect(unit_field).to_have_value(f"LIMS:DU:{ward.unit}")
    assert len(posts) == 1, posts
    with ward.app.app_context():  # the live server's clock (moved past 03:00 lab time when need be)
        infusion = to_lab(utcnow() - timedelta(hours=2, minutes=15))
    form.get_by_label("Infusion started at").fill(infusion.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Record the administration").click()
    expect(page).to_have_url(re.compile(rf"/courses/doses/{ward.dose}$"))
    _status(page, f"Dose {ward.dose} recorded as given.")
    expect(page.locator("#dose-status")).to_have_text("given")
    expect(page.locator("#dose-unit")).to_contain_text(f"{ward.unit} · administered")
    expect(page.locator("form.bedside-form")).to_have_count(0)
    given = page.locator("dl.facts")
    expect(given).to_contain_text("120.0 mL")
    expect(given).to_contain_text(TUBE_METHOD)
    expect(page.locator("#observations tbody")).to_contain_text("None recorded yet.")
    shot(page, "administration_given")

    # 4. The 120-minute observation: 38.4 °C.
    page.get_by_text("Record an observation", exact=True).click()
    obs = page.locator("form[action$='/observations']")
    obs.get_by_label("Observation time (min after the infusion)").select_option("120")
    obs.get_by_label("Temperature (°C)").fill("38.4")
    obs.get_by_role("button", name="Record").click()
    _status(page, "Observation recorded.")
    row = page.locator("#observations tbody tr").first
    expect(row.locator("td").first).to_have_text("120")
    expect(row.locator("td").nth(2)).to_have_text("38.4 fever")
    shot(page, "administration_observation")

    # The adverse event, from the dose: find the CTCAE term, then the form with each grade's text.
    page.get_by_text("Record an observation", exact=True).click()
    page.get_by_role("link", name="Record an adverse event after this dose").click()
    expect(page).to_have_url(re.compile(rf"/aes/new/{ward.recipient}\?administration=\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"New adverse event · {ward.recipient}")
    search = page.get_by_label("Term or words of its definition (English, e.g. fever, diarrhea, rash)")
    expect(search).to_be_focused()
    page.keyboard.type("fever")
    page.keyboard.press("Enter")
    results = page.locator("#term-results")
    expect(results).to_contain_text("10016558")
    results.get_by_role("link", name="Fever", exact=True).click()
    ae_form = page.locator("#ae-form")
    expect(page.get_by_role("heading", level=2)).to_contain_text("2. Fever")
    grades = ae_form.locator("fieldset.grades label.grade-option")
    expect(grades).to_have_count(5)
    expect(grades.nth(0)).to_contain_text(f"Grade 1 (mild) – {FEVER_G1}")
    expect(grades.nth(1)).to_contain_text(f"Grade 2 (moderate) – {FEVER_G2}")
    linked = ae_form.get_by_label("Administration it followed")
    expect(linked.locator("option:checked")).to_contain_text(ward.dose)
    shot(page, "ae_form")

    ae_form.get_by_role("radio", name=re.compile(r"^Grade 1 ")).check()
    ae_form.get_by_label("Description (what happened, measurements, treatment)").fill(
        "38.4 °C two hours after the day-1 infusion; indometacin suppository."
    )
    ae_form.get_by_label("Related to FMT", exact=True).select_option(label="possible")
    ae_form.get_by_label("Related to the co-therapy", exact=True).select_option(label="unrelated")
    ae_form.get_by_label("Action taken", exact=True).select_option(label="treated with medication")
    ae_form.get_by_label("Outcome", exact=True).select_option(label="recovering/resolving")
    ae_form.get_by_role("button", name="Record the adverse event").click()

    expect(page).to_have_url(re.compile(r"/aes/AE-\d{4,}$"))
    code = page.url.rsplit("/", 1)[1]
    _status(page, f"Adverse event {code} recorded.")
    facts = page.locator("dl.facts")
    expect(facts.locator("dd").first).to_contain_text("Fever")
    expect(page.locator("#ae-grade")).to_contain_text(f"1 mild – {FEVER_G1}")
    expect(page.locator("#ae-grade .badge")).to_have_text("1")
    expect(facts).to_contain_text("possible / unrelated")
    expect(facts).to_contain_text("treated with medication / recovering/resolving")
    expect(facts).to_contain_text("not serious")
    trace = facts.locator("dd", has=page.get_by_role("link", name=ward.dose, exact=True))
    expect(trace.get_by_role("link", name=ward.dose, exact=True)).to_have_attribute(
        "href", f"/courses/doses/{ward.dose}"
    )
    expect(trace.get_by_role("link", name=ward.unit, exact=True)).to_have_attribute("href", f"/units/{ward.unit}")
    expect(trace.get_by_role("link", name=ward.lot, exact=True)).to_have_attribute("href", f"/batches/{ward.lot}")
    expect(trace.get_by_role("link", name=ward.donor, exact=True)).to_have_attribute("href", f"/donors/{ward.donor}")
    shot(page, "ae_recorded")
