"""Demo lab, loaded by ``lims demo-data`` (idempotent).

It grows with each capability and follows the reference study in domain.md.
Records are created as the demo users would create them (their names on the
audit trail), through the same operations as the screens use.
"""
from __future__ import annotations

from datetime import date, timedelta

from .audit.trail import change_reason
from .auth.operations import create_user, find_user
from .clock import utcnow
from .db import Actor
from .equipment import operations as eq_ops

DEMO_PASSWORD = "Demo-Password-2026"
DEMO_USERS = [
    ("admin", "Wang Jun (admin)", ["admin"], "en"),
    ("qa", "Li Na", ["qa"], "zh_CN"),
    ("qa2", "Zhou Min", ["qa"], "en"),
    ("tech", "Zhang Wei", ["technician"], "zh_CN"),
    ("tech2", "Chen Jing", ["technician"], "en"),
    ("clinician", "Dr. Liu Yang", ["clinician"], "zh_CN"),
]

EQUIPMENT = [
    ("EQ-GFM-01", "GenFMTer automated microbiota purification device", "purification_device", "GMP suite A, room 2",
     "GFM-2019-0412", 120, True),
    ("EQ-CEN-01", "Refrigerated centrifuge", "centrifuge", "GMP suite A, room 2", "CF-88-1031", 200, True),
    ("EQ-BSC-01", "Class II biosafety cabinet", "biosafety_cabinet", "GMP suite A, room 1", "BSC-A2-5521", 90, True),
    ("EQ-FRZ-01", "-80 °C ultra-low freezer (dose units)", "freezer", "Storage room B", "ULT-80-3310", 300, True),
    ("EQ-WB-01", "37 °C water bath (thawing)", "water_bath", "Ward preparation room", "WB-37-0077", 5, False),
]


def _as(session, user) -> None:
    session.info["actor"] = Actor(user.id, user.full_name, "demo")


def load_demo(session) -> int:
    created = 0
    users = {}
    for username, name, roles, lang in DEMO_USERS:
        user = find_user(session, username)
        if user is None:
            user = create_user(session, username, name, roles, DEMO_PASSWORD, lang, must_change=False)
            created += 1
        users[username] = user
    today = utcnow().date()
    tech, qa = users["tech"], users["qa"]
    for code, name, kind, location, serial, due_days, approve in EQUIPMENT:
        if eq_ops.by_code(session, code) is not None:
            continue
        _as(session, tech)
        eq = eq_ops.create(session, code, {
            "name": name, "kind": kind, "location": location, "serial_number": serial,
            "status": "in_service", "calibration_due": today + timedelta(days=due_days), "notes": None})
        created += 1
        if approve:
            _as(session, qa)
            eq_ops.approve(session, eq, eq.version, qa, DEMO_PASSWORD, "IQ/OQ documents reviewed", "demo")
    # A record changed after approval: its signature must read as invalid until QA signs again.
    cen = eq_ops.by_code(session, "EQ-CEN-01")
    if cen is not None and cen.location == "GMP suite A, room 2":
        _as(session, users["tech2"])
        with change_reason(session, "Moved to room 3 after the suite A renovation"):
            cen.location = "GMP suite A, room 3"
    return created


def demo_today() -> date:
    return utcnow().date()
