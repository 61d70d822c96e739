"""A lab ready to manufacture: spec, staff, an eligible donor who passed today's check, an approved device, storage.

Everything is created through the same operations the screens use (real
screening decision, real QA approval), so clearance and release rules see
real records. The clock starts at 2026-11-23 10:00 in the lab (02:00 UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest
from sqlmodel import select

from lims.auth.models import User
from lims.db import Actor, transaction
from lims.timefmt import lab_zone
from tests.conftest import PASSWORD, Browser

DONATION_DAY = date(2026, 11, 23)


def lab(day: date, hh: int, mm: int = 0) -> datetime:
    """An aware UTC instant from a lab-zone wall-clock time."""
    return datetime.combine(day, time(hh, mm), tzinfo=lab_zone()).astimezone(UTC)


def local(day: date, hh: int, mm: int = 0) -> str:
    """The value a datetime-local input posts."""
    return f"{day.isoformat()}T{hh:02d}:{mm:02d}"


def _user(s, username) -> User:
    return s.exec(select(User).where(User.username == username)).one()


def act(username: str, fn):
    """Run ``fn(session, user)`` in one transaction attributed to ``username``."""
    with transaction(Actor(None, "setup")) as s:
        user = _user(s, username)
        s.info["actor"] = Actor(user.id, user.full_name, "test")
        return fn(s, user)


def pass_screening(
    donor_code: str, sample_day: date, decided_on: date, staff=("tech1", "tech2", "nurse1"), password: str = PASSWORD
) -> int:
    """A full normal panel sampled on ``sample_day``: entered, verified and approved by the three ``staff``."""
    from lims.demo import _normal_panel
    from lims.donors import operations as donor_ops
    from lims.donors import screening

    enters, verifies, approves = staff

    def start_and_record(s, user):
        donor = donor_ops.get(s, donor_code)
        sc = screening.start(s, donor, sample_day)
        screening.record_results(s, sc, _normal_panel(s, sc), sample_day, "central lab", None, decided_on)
        return sc.id

    sc_id = act(enters, start_and_record)
    act(verifies, lambda s, u: screening.verify(s, screening.get(s, sc_id), u, password, None, "test"))
    act(approves, lambda s, u: screening.approve(s, screening.get(s, sc_id), u, password, None, decided_on, "test"))
    return sc_id


def day_check(donor_code: str, day: date, answer: str = "no", by: str = "nurse1"):
    from lims.donors import donation_day
    from lims.donors import operations as donor_ops

    def run(s, user):
        donor = donor_ops.get(s, donor_code)
        _p, questions = donation_day.questions(s, donor)
        return donation_day.record(s, donor, {q.code: answer for q in questions}, day)

    return act(by, run)


STORAGE = [
    ("SITE-T", "site", None, None, None),
    ("FRZ-T", "freezer", "SITE-T", None, None),
    ("FRZ-T-R1", "rack", "FRZ-T", None, None),
    ("BOX-F1", "box", "FRZ-T-R1", 3, 3),
    ("FRG-T", "fridge", "SITE-T", None, None),
    ("BOX-C1", "box", "FRG-T", 2, 2),
]


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Argon2id with minimal cost: these tests sign dozens of times and are about manufacturing rules;
    the production parameters are proven by the foundation's tests."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("lims.auth.passwords._hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@dataclass
class Lab:
    tech: Browser
    tech2: Browser
    qa: Browser
    qa2: Browser
    nurse: Browser
    donor: str = "D-0001"


@pytest.fixture
def mfg(app, make_user):
    """The lab: staff browsers, donor D-0001 eligible with a passed check today, EQ-GFM-01 approved, storage."""
    from lims.donors import operations as donor_ops
    from lims.donors.protocols import seed_default_protocol
    from lims.equipment import operations as eq_ops
    from lims.manufacturing import storage
    from lims.manufacturing.spec import seed_default_spec

    with transaction(Actor(None, "seed")) as s:
        seed_default_protocol(s)
        seed_default_spec(s)
    for username, roles, name in [
        ("tech1", ["technician"], "Zhang Wei"),
        ("tech2", ["technician"], "Chen Jing"),
        ("qa1", ["qa"], "Li Na"),
        ("qa2", ["qa"], "Zhou Min"),
        ("nurse1", ["clinician"], "Dr. Liu Yang"),
    ]:
        make_user(username, roles, name=name)
    act(
        "nurse1",
        lambda s, u: donor_ops.register(
            s,
            {
                "sex": "male",
                "date_of_birth": date(2006, 3, 14),
                "height_cm": "176.0",
                "weight_kg": "66.5",
                "measured_on": date(2026, 11, 1),
                "notes": None,
            },
            {"full_name": "Zhao Yu", "national_id": "320106200603141237", "phone": ""},
            date(2026, 11, 1),
        ),
    )
    pass_screening("D-0001", date(2026, 11, 10), date(2026, 11, 12))
    day_check("D-0001", DONATION_DAY)

    def device(s, u):
        return eq_ops.create(
            s,
            "EQ-GFM-01",
            {
                "name": "GenFMTer",
                "kind": "purification_device",
                "location": "suite A",
                "serial_number": "GFM-1",
                "status": "in_service",
                "calibration_due": date(2027, 6, 1),
                "notes": None,
            },
        ).id

    eq_id = act("tech1", device)
    act("qa2", lambda s, u: eq_ops.approve(s, eq_ops.get(s, eq_id), f"{eq_id}@1", u, PASSWORD, None, "test"))
    for code, kind, parent, rows, cols in STORAGE:
        act(
            "tech1",
            lambda s, u: storage.create_location(
                s, {"code": code, "name": code, "kind": kind, "parent": parent, "rows": rows, "cols": cols}
            ),
        )
    browsers = {}
    for username in ("tech1", "tech2", "qa1", "qa2", "nurse1"):
        b = Browser(app.test_client())
        assert b.login(username).status_code == 302
        browsers[username] = b
    return Lab(browsers["tech1"], browsers["tech2"], browsers["qa1"], browsers["qa2"], browsers["nurse1"])
