"""Demo lab, loaded by ``lims demo-data`` (idempotent).

It grows with each capability and follows the reference study in domain.md.
Records are created as the demo users would create them (their names on the
audit trail), through the same operations as the screens use.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from .audit.trail import change_reason
from .auth.operations import create_user, find_user
from .clock import utcnow
from .db import Actor
from .equipment import operations as eq_ops
from .timefmt import to_lab

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
    today = to_lab(utcnow()).date()
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
    created += _demo_donors(session, users)
    return created


# The reference study's donor (domain.md: a 20-year-old male university student) and two other
# candidates, registered by the research nurse. Identities are invented.
DONORS = [
    ({"sex": "male", "years": 20, "height_cm": "176.0", "weight_kg": "66.5", "notes": "University student; reference study donor",
      "screening": "eligible"},
     {"full_name": "Zhao Yu", "national_id": "320106200603141237", "phone": "139 5100 0001"}),
    ({"sex": "female", "years": 24, "height_cm": "162.0", "weight_kg": "49.0", "notes": "Postgraduate student",
      "screening": "deferred"},
     {"full_name": "Sun Mei", "national_id": "320106200208221246", "phone": "139 5100 0002"}),
    ({"sex": "male", "years": 27, "height_cm": "171.0", "weight_kg": "66.0", "notes": "Laboratory staff volunteer",
      "screening": "pending"},
     {"full_name": "Qian Hao", "national_id": "320106199911051253", "phone": "139 5100 0003"}),
]


def _demo_donors(session, users) -> int:
    from .donors import operations as donor_ops
    from .donors.models import DonorIdentity
    from .donors.protocols import seed_default_protocol
    from sqlmodel import select

    seed_default_protocol(session)
    _as(session, users["clinician"])
    today = to_lab(utcnow()).date()
    created = 0
    for facts, identity in DONORS:
        if session.exec(select(DonorIdentity).where(DonorIdentity.national_id == identity["national_id"])).first():
            continue
        dob = date(today.year - facts["years"], 3, 14)
        donor = donor_ops.register(session, {"sex": facts["sex"], "date_of_birth": dob, "height_cm": facts["height_cm"],
                                             "weight_kg": facts["weight_kg"], "measured_on": today - timedelta(days=3),
                                             "notes": facts["notes"]}, identity, today)
        created += 1
        _demo_screening(session, users, donor, facts.get("screening"), today)
    return created


def _normal_panel(session, sc):
    from .donors.models import ScreeningProtocol
    from .donors.protocols import items_of

    values = {}
    for item in items_of(session, session.get(ScreeningProtocol, sc.protocol_id)):
        if item.result_type == "qualitative":
            values[item.code] = ("negative", "")
        elif item.result_type == "yes_no":
            values[item.code] = ("no", "")
        else:
            low = item.normal_min if item.normal_min is not None else 0
            values[item.code] = (str(((low + item.normal_max) / 2).quantize(Decimal("0.1"))), "")
    return values


def _demo_screening(session, users, donor, plan, today):
    """eligible: full panel, verified, decision signed; deferred: ESBL positive; pending: entered, not verified."""
    from .donors import screening

    if plan is None:
        return
    _as(session, users["tech"])
    sc = screening.start(session, donor, today - timedelta(days=6))
    values = _normal_panel(session, sc)
    if plan == "deferred":
        values["S_ESBL"] = ("positive", "culture confirmed")
    if plan == "pending":
        values = {k: v for k, v in values.items() if k.startswith(("Q_", "A_"))}
    screening.record_results(session, sc, values, today - timedelta(days=5), "hospital central laboratory", None, today)
    if plan == "pending":
        return
    _as(session, users["tech2"])
    screening.verify(session, sc, users["tech2"], DEMO_PASSWORD, "checked against the LIS report", "demo")
    _as(session, users["clinician"])
    screening.approve(session, sc, users["clinician"], DEMO_PASSWORD, None, today, "demo")
