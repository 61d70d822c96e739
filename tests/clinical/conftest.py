"""A clinic ready to treat: a released frozen batch in BOX-F1, recipient P-0001 (the reference patient P4),
the course template seeded, a clinician and technicians signed in.

Builds on the manufacturing lab (``mfg``): the batch FMT-20261123-01 goes from
donation to release through HTTP, which moves the clock to 2026-11-25 10:00
lab time (the donor's re-screening day). Courses start "today" = 2026-11-25.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest

from lims.db import Actor, transaction
from lims.manufacturing.models import Batch, DoseUnit
from tests.conftest import Browser, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import Lab, fast_password_hashing, lab, mfg  # noqa: F401 - fixtures
from tests.manufacturing.flow import LOT, ok

TODAY = date(2026, 11, 25)  # the lab day after flow.clear_donor
UNITS = [f"{LOT}-0{i}" for i in range(1, 7)]
FEVER = "10016558"
NAUSEA = "10028813"

# The reference patient P4: a 75-year-old man, sigmoid colon adenocarcinoma with liver metastasis, ECOG 3,
# seven prior lines of treatment; consent before today.
P4 = {
    "study": "WMT-TORI",
    "sex": "male",
    "date_of_birth": "1951-03-02",
    "diagnosis": "Sigmoid colon adenocarcinoma",
    "stage": "IV",
    "tnm": "T3N1M1",
    "metastasis_sites": "liver",
    "ecog": "3",
    "prior_lines": "7",
    "consent_date": "2026-11-20",
    "notes": "",
    "full_name": "Xu Ming",
    "hospital_number": "H2019-0122",
    "phone": "",
}
OTHER = {
    **P4,
    "sex": "female",
    "date_of_birth": "1960-05-05",
    "diagnosis": "Rectal adenocarcinoma",
    "full_name": "Wang Fang",
    "hospital_number": "H2020-0456",
    "ecog": "2",
    "prior_lines": "3",
}


@dataclass
class Clinic:
    lab: Lab
    clock: object
    lot: str = LOT

    @property
    def nurse(self) -> Browser:  # nurse1 has the role clinician
        return self.lab.nurse

    @property
    def tech(self) -> Browser:
        return self.lab.tech

    def relogin(self):
        """After the clock moved past the 30-minute idle timeout, everyone signs in again."""
        flow.relogin(self.lab)

    def advance(self, **kw):
        self.clock.advance(**kw)
        self.relogin()

    def at(self, day: date, hh: int, mm: int = 0):
        """Set the clock to a lab wall-clock time and sign everyone in again."""
        self.clock.set(lab(day, hh, mm))
        self.relogin()


def register(browser, data=None) -> str:
    r = browser.post("/recipients/new", data or P4)
    assert r.status_code == 302, page_text(r)[:3000]
    return r.headers["Location"].rsplit("/", 1)[-1]


def plan(browser, recipient="P-0001", day1=TODAY, same_donor=True):
    from lims.clinical.course_models import CourseTemplate

    template = flow.row(CourseTemplate, code="WMT-NJ-D1D3")
    data = {"plan-template": str(template.id), "plan-day1": day1.isoformat()}
    if same_donor:
        data["plan-same_donor"] = "y"
    return browser.post(f"/courses/plan/{recipient}", data, token_from=f"/recipients/{recipient}")


def dose_url(code):
    return f"/courses/doses/{code}"


def reserve(browser, dose, unit):
    return browser.post(f"{dose_url(dose)}/reserve", {"reserve-unit": f"LIMS:DU:{unit}"}, token_from=dose_url(dose))


def label_verified(browser, unit):
    """What the lab does before it issues a unit: record a frozen unit's thaw (now), print its label and scan it
    back into "Verify label" (labels.reconcile), each through the unit page as a technician would."""
    from lims.clock import utcnow
    from lims.timefmt import to_lab

    page = f"/units/{unit}"
    u = unit_row(unit)
    if u.storage == "frozen" and u.thawed_at is None:
        ok(
            browser.post(
                f"{page}/thaw", {"thaw-thawed_at": to_lab(utcnow()).strftime("%Y-%m-%dT%H:%M")}, token_from=page
            )
        )
    r = browser.post(
        "/labels/print",
        {"kind": "DU", "code": unit, "layout": "tube_50x30", "format": "pdf", "reason": "label for issue"},
        token_from=page,
        headers={"Referer": f"http://localhost{page}"},
    )
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf", page_text(r)[:2000]
    ok(browser.post(f"{page}/verify-label", {"verify-payload": f"LIMS:DU:{unit}"}, token_from=page))


def _due_today(unit) -> bool:
    """The unit is reserved for a dose scheduled today: the issue desk would take it."""
    from lims.clinical.course_models import Administration
    from lims.timefmt import lab_today

    u = unit_row(unit)
    a = flow.row(Administration, unit_id=u.id)
    return u.status == "reserved" and a is not None and a.scheduled_date == lab_today()


def issue(browser, unit, payload=None, label=True):
    """Issue ``unit`` at the desk; with ``label`` a unit due today first gets its thaw and a verified label."""
    if label and payload is None and _due_today(unit):
        label_verified(browser, unit)
    return browser.post(
        "/courses/today/issue", {"issue-unit": payload or f"LIMS:DU:{unit}"}, token_from="/courses/today"
    )


def version_of(browser, dose, prefix="give"):
    """The record version the dose page's form carries (as a browser would post it)."""
    html = browser.get(dose_url(dose)).get_data(as_text=True)
    m = re.search(rf'name="{prefix}-version" type="hidden" value="(\d+)"|name="{prefix}-version" value="(\d+)"', html)
    if m:
        return m.group(1) or m.group(2)
    from lims.clinical.course_models import Administration

    return str(flow.row(Administration, code=dose).version)


def bedside(unit, given_at, patient="P-0001", **overrides):
    """A complete bedside form: wristband, identity, tube, fasting, unit, time, volume, instructions."""
    data = {
        "give-patient": f"LIMS:PT:{patient}",
        "give-identity_confirmed": "y",
        "give-tube_confirmed": "y",
        "give-tube_date": TODAY.isoformat(),
        "give-tube_method": "placed under gastroscopy; X-ray confirmed",
        "give-fasting": "y",
        "give-unit": f"LIMS:DU:{unit}",
        "give-given_at": given_at,
        "give-volume_ml": "120",
        "give-instructions": ["position", "no_food"],
        "give-note": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def administer(browser, dose, unit, given_at, version=None, **overrides):
    data = bedside(unit, given_at, **overrides)
    data["give-version"] = version or version_of(browser, dose)
    return browser.post(f"{dose_url(dose)}/administer", data, token_from=dose_url(dose))


def postpone(browser, dose, new_date, reason_code="fever", reason="38.2 °C in the evening", version=None):
    data = {
        "pp-version": version or version_of(browser, dose, "pp"),
        "pp-new_date": new_date,
        "pp-reason_code": reason_code,
        "pp-reason": reason,
    }
    return browser.post(f"{dose_url(dose)}/postpone", data, token_from=dose_url(dose))


def unit_row(code) -> DoseUnit:
    return flow.row(DoseUnit, code=code)


def dose_row(code):
    from lims.clinical.course_models import Administration

    return flow.row(Administration, code=code)


@pytest.fixture
def clinic(app, mfg, clock):
    """Released frozen batch FMT-20261123-01 (6 units in BOX-F1 A1-B3), P-0001 registered, template seeded."""
    from lims.clinical import courses

    flow.to_quarantine(mfg)
    for i, code in enumerate(UNITS, start=1):
        ok(flow.place(mfg.tech, code, "BOX-F1", f"A{i}" if i <= 3 else f"B{i - 3}"))
    flow.clear_donor(mfg, clock)
    ok(flow.review(mfg.qa))
    ok(flow.release(mfg.qa))
    assert flow.row(Batch, lot=LOT).status == "released"
    assert {u.status for u in flow.rows(DoseUnit, lot=LOT)} == {"available"}
    assert len(flow.rows(DoseUnit, lot=LOT)) >= 4
    with transaction(Actor(None, "seed")) as s:
        courses.seed_default_template(s)
    c = Clinic(mfg, clock)
    assert register(c.nurse) == "P-0001"
    return c


LOT2 = "FMT-20261123-02"
UNITS2 = [f"{LOT2}-0{i}" for i in range(1, 7)]


def quarantined_batch(clinic) -> str:
    """A second donation of 2026-11-23 processed to quarantine (QC verified, not released): FMT-20261123-02."""
    lab_ = clinic.lab
    ok(flow.receive(lab_))
    ok(flow.start(lab_, donation="DN-20261123-02", run="RUN-2"))
    flow.record_steps(lab_, lot=LOT2)
    ok(flow.verify_steps(lab_, lot=LOT2))
    ok(flow.enter_qc(lab_, lot=LOT2))
    ok(flow.verify_qc(lab_, lot=LOT2))
    assert flow.row(Batch, lot=LOT2).status == "quarantine"
    return LOT2


def craft_unit(code, **values):
    """Change a unit behind the screens (an expiry or storage the HTTP flow cannot reach in a test's time)."""
    from sqlmodel import select

    from lims.audit.trail import change_reason

    with transaction(Actor(None, "test craft")) as s, change_reason(s, "test: crafted"):
        u = s.exec(select(DoseUnit).where(DoseUnit.code == code)).one()
        for k, v in values.items():
            setattr(u, k, v)


def other_donor_batch(clinic) -> str:
    """Donor D-0002 (screened, cleared) gives on 2026-11-23 too; batch FMT-20261123-02 is released."""
    from lims.donors import operations as donor_ops
    from tests.manufacturing.conftest import act, day_check, pass_screening

    lab_ = clinic.lab
    act(
        "nurse1",
        lambda s, u: donor_ops.register(
            s,
            {
                "sex": "female",
                "date_of_birth": date(2004, 7, 1),
                "height_cm": "165.0",
                "weight_kg": "55.0",
                "measured_on": date(2026, 11, 1),
                "notes": None,
            },
            {"full_name": "Sun Li", "national_id": "11010520040701122X", "phone": ""},
            date(2026, 11, 1),
        ),
    )
    pass_screening("D-0002", date(2026, 11, 10), date(2026, 11, 12))
    day_check("D-0002", flow.DONATION_DAY)
    ok(flow.receive(lab_, donor="D-0002"))
    ok(flow.start(lab_, donation="DN-20261123-02", run="RUN-2"))
    flow.record_steps(lab_, lot=LOT2)
    ok(flow.verify_steps(lab_, lot=LOT2))
    ok(flow.enter_qc(lab_, lot=LOT2))
    ok(flow.verify_qc(lab_, lot=LOT2))
    pass_screening("D-0002", date(2026, 11, 24), date(2026, 11, 25))
    ok(flow.review(lab_.qa, lot=LOT2))
    ok(flow.release(lab_.qa, lot=LOT2))
    assert flow.row(Batch, lot=LOT2).status == "released"
    return LOT2
