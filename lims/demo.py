"""Demo lab, loaded by ``lims demo-data`` (idempotent).

It grows with each capability and follows the reference study in domain.md.
Records are created as the demo users would create them (their names on the
audit trail), through the same operations as the screens use.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import Decimal

from .audit.concurrency import version_token
from .audit.trail import change_reason
from .auth.operations import create_user, find_user
from .clock import utcnow
from .db import Actor
from .equipment import operations as eq_ops
from .timefmt import lab_today, to_lab

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
    (
        "EQ-GFM-01",
        "GenFMTer automated microbiota purification device",
        "purification_device",
        "GMP suite A, room 2",
        "GFM-2019-0412",
        120,
        True,
    ),
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
    today = lab_today()
    tech, qa = users["tech"], users["qa"]
    for code, name, kind, location, serial, due_days, approve in EQUIPMENT:
        if eq_ops.by_code(session, code) is not None:
            continue
        _as(session, tech)
        eq = eq_ops.create(
            session,
            code,
            {
                "name": name,
                "kind": kind,
                "location": location,
                "serial_number": serial,
                "status": "in_service",
                "calibration_due": today + timedelta(days=due_days),
                "notes": None,
            },
        )
        created += 1
        if approve:
            _as(session, qa)
            eq_ops.approve(session, eq, version_token(eq), qa, DEMO_PASSWORD, "IQ/OQ documents reviewed", "demo")
    # A record changed after approval: its signature must read as invalid until QA signs again.
    cen = eq_ops.by_code(session, "EQ-CEN-01")
    if cen is not None and cen.location == "GMP suite A, room 2":
        _as(session, users["tech2"])
        with change_reason(session, "Moved to room 3 after the suite A renovation"):
            cen.location = "GMP suite A, room 3"
    created += _demo_donors(session, users)
    created += _demo_recipients(session, users)
    created += _demo_courses(session, users)
    created += _demo_lookback(session, users)
    return created


def _demo_lookback(session, users) -> int:
    """An open lookback case mid-way: the reference donor reported a fever after his donation of two days ago;
    QA opened a case for that batch (in quarantine), widened its scope to today's batch (donated after the fever)
    and signed the hold; the re-test and the close are to do. The case page lists every donation of the donor,
    in scope or excluded, and why."""
    from sqlmodel import select

    from .donors.models import Donor
    from .lookback import actions, cases
    from .lookback.models import LookbackCase
    from .manufacturing.models import Batch

    if session.exec(select(LookbackCase)).first() is not None:
        return 0
    donor = session.exec(select(Donor).where(Donor.code == "D-0001")).first()
    held = (
        session.exec(
            select(Batch).where(Batch.donor_id == donor.id, Batch.status == "quarantine").order_by(Batch.id)
        ).first()
        if donor
        else None
    )
    if held is None:
        return 0
    today = lab_today()
    _as(session, users["qa"])
    case = cases.open_manual(
        session,
        None,
        held.lot,
        today - timedelta(days=1),
        "Donor follow-up call: loose stools and 37.9 °C the day after this donation. "
        "Batch held until the retained sample is re-tested for enteric pathogens.",
        today,
    )
    # The donation of today (in process) was given after the fever: QA widens the scope to it, signed, so the
    # one hold covers both batches. The released batch of three weeks ago stays excluded (listed, with why).
    later = session.exec(
        select(Batch).where(Batch.donor_id == donor.id, Batch.status == "in_process").order_by(Batch.id)
    ).first()
    if later is not None:
        actions.widen(
            session,
            case,
            actions.case_fingerprint(session, case),
            later.lot,
            "Donated after the reported fever: held with the named batch until the re-test.",
            users["qa"],
            DEMO_PASSWORD,
            "demo",
        )
    actions.hold(
        session,
        case,
        case.version,
        "Precautionary hold pending re-test of the retained sample",
        users["qa"],
        DEMO_PASSWORD,
        "demo",
        actions.case_fingerprint(session, case),
    )
    return 1


# The reference study's donor (domain.md: a 20-year-old male university student) and two other
# candidates, registered by the research nurse. Identities are invented.
DONORS = [
    (
        {
            "sex": "male",
            "years": 20,
            "height_cm": "176.0",
            "weight_kg": "66.5",
            "notes": "University student; reference study donor",
            "screening": "eligible",
            "measured_days_ago": 45,
            "earlier_screening": True,
        },
        {"full_name": "Zhao Yu", "national_id": "320106200603141237", "phone": "139 5100 0001"},
    ),
    (
        {
            "sex": "female",
            "years": 24,
            "height_cm": "162.0",
            "weight_kg": "49.0",
            "notes": "Postgraduate student",
            "screening": "deferred",
        },
        {"full_name": "Sun Mei", "national_id": "320106200208221246", "phone": "139 5100 0002"},
    ),
    (
        {
            "sex": "male",
            "years": 27,
            "height_cm": "171.0",
            "weight_kg": "66.0",
            "notes": "Laboratory staff volunteer",
            "screening": "pending",
        },
        {"full_name": "Qian Hao", "national_id": "320106199911051253", "phone": "139 5100 0003"},
    ),
]


def _demo_donors(session, users) -> int:
    from sqlmodel import select

    from .donors import operations as donor_ops
    from .donors.models import DonorIdentity
    from .donors.protocols import seed_default_protocol

    seed_default_protocol(session)
    _as(session, users["clinician"])
    today = lab_today()
    created = 0
    for facts, identity in DONORS:
        if session.exec(select(DonorIdentity).where(DonorIdentity.national_id == identity["national_id"])).first():
            continue
        dob = date(today.year - facts["years"], 3, 14)
        donor = donor_ops.register(
            session,
            {
                "sex": facts["sex"],
                "date_of_birth": dob,
                "height_cm": facts["height_cm"],
                "weight_kg": facts["weight_kg"],
                "measured_on": today - timedelta(days=facts.get("measured_days_ago", 3)),
                "notes": facts["notes"],
            },
            identity,
            today,
        )
        created += 1
        if facts.get("earlier_screening"):
            _demo_screening(session, users, donor, "eligible", today - timedelta(days=38), sampled_days_before=2)
            _demo_manufacturing_before_rescreen(session, users, donor, today)
        _demo_screening(session, users, donor, facts.get("screening"), today)
        if facts.get("earlier_screening"):
            _demo_manufacturing_after_rescreen(session, users, donor, today)
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


def _demo_screening(session, users, donor, plan, today, sampled_days_before=5):
    """eligible: full panel, verified, decision signed; deferred: ESBL positive; pending: entered, not verified."""
    from .donors import screening

    if plan is None:
        return
    _as(session, users["tech"])
    sc = screening.start(session, donor, today - timedelta(days=sampled_days_before + 1))
    values = _normal_panel(session, sc)
    if plan == "deferred":
        values["S_ESBL"] = ("positive", "culture confirmed")
    if plan == "pending":
        values = {k: v for k, v in values.items() if k.startswith(("Q_", "A_"))}
    screening.record_results(
        session, sc, values, today - timedelta(days=sampled_days_before), "hospital central laboratory", None, today
    )
    if plan == "pending":
        return
    _as(session, users["tech2"])
    screening.verify(session, sc, users["tech2"], DEMO_PASSWORD, "checked against the LIS report", "demo")
    _as(session, users["clinician"])
    screening.approve(session, sc, users["clinician"], DEMO_PASSWORD, None, today, "demo")


# --- manufacturing ---------------------------------------------------------------------------------
# The reference donor's donations: one made before his re-screening (released once the re-screening
# cleared it), one after it (in quarantine until the next screening), one today (in process) and one
# rejected because processing could not start within 6 h of collection.

STORAGE = [
    ("SITE-A", "GMP laboratory for intestinal microecology", "site", None, None, None),
    ("FRZ-01", "-80 °C ultra-low freezer EQ-FRZ-01", "freezer", "SITE-A", None, None),
    ("FRZ-01-R1", "Rack 1", "rack", "FRZ-01", None, None),
    ("FRZ-01-R1-B1", "Box 1 (9 x 9)", "box", "FRZ-01-R1", 9, 9),
    ("FRZ-01-R1-B2", "Box 2 (9 x 9)", "box", "FRZ-01-R1", 9, 9),
    ("FRG-01", "4 °C refrigerator (fresh product)", "fridge", "SITE-A", None, None),
    ("FRG-01-B1", "Fresh-product tray (5 x 5)", "box", "FRG-01", 5, 5),
]
STEPS = [  # (minutes after processing start at which the step ends, parameters)
    (7, {"diluent": "0.9 % sterile saline", "volume_ml": "1000"}),
    (19, {"mesh_um": "2000, 500, 100, 13"}),
    (26, {"g_force": "1100", "minutes": "3", "temperature_c": "25"}),
    (33, {"g_force": "1100", "minutes": "3", "temperature_c": "25"}),
    (41, {"g_force": "1100", "minutes": "3", "temperature_c": "25"}),
    (
        50,
        {
            "volume_ml": "1100",
            "diluent": "0.9 % sterile saline",
            "cryoprotectant": "glycerol",
            "cryoprotectant_pct": "10",
        },
    ),
    (75, {"dose_count": "9", "unit_volume_ml": "120", "storage": "frozen"}),
]
QC_PASS = {
    "PURITY": "99.4",
    "COUNT": "1.1x10^13",
    "CDIFF": "negative",
    "ENTERIC": "negative",
    "MDRO": "negative",
    "VOLUME": "120",
    "APPEARANCE": "conforms",
}


def _at(day, hh, mm):
    from datetime import datetime, time

    from .timefmt import lab_zone

    return datetime.combine(day, time(hh, mm), tzinfo=lab_zone()).astimezone(UTC)


def _demo_storage(session, users):
    from sqlmodel import select

    from .manufacturing import storage
    from .manufacturing.models import StorageLocation

    _as(session, users["tech"])
    for code, name, kind, parent, rows, cols in STORAGE:
        if session.exec(select(StorageLocation).where(StorageLocation.code == code)).first() is None:
            storage.create_location(
                session, {"code": code, "name": name, "kind": kind, "parent": parent, "rows": rows, "cols": cols}
            )


def _demo_donation(session, users, donor, collected, day_check=True):
    from .donors import donation_day
    from .manufacturing import donations

    day = to_lab(collected).date()
    if day_check:
        _as(session, users["clinician"])
        _protocol, questions = donation_day.questions(session, donor)
        donation_day.record(session, donor, {q.code: "no" for q in questions}, day)
    _as(session, users["tech"])
    return donations.receive(
        session,
        donor,
        {
            "collected_at": collected,
            "received_at": collected + timedelta(minutes=30),
            "receipt_temp_c": Decimal("4.0"),
            "mass_g": Decimal("182.5"),
            "bristol": 4,
            "appearance": "brown, formed; no blood or mucus",
            "retained_location": "FRG-01 retained-sample rack",
        },
        users["tech"],
        utcnow(),
    )


def _demo_batch(session, users, donation, start, steps=len(STEPS), run="GFM-2026-0187"):  # noqa: B008
    from .manufacturing import batches

    _as(session, users["tech"])
    batch = batches.start(session, donation, "EQ-GFM-01", run, start, users["tech"], utcnow())
    previous_end = start
    for position, (minutes, params) in enumerate(STEPS[:steps], start=1):
        end = start + timedelta(minutes=minutes)
        batches.record_step(session, batch, position, params, previous_end, end, users["tech"], utcnow())
        previous_end = end
    _as(session, users["tech2"])
    return batch


def _demo_qc_and_storage(session, users, batch, tested_on, box, first_row):
    from .manufacturing import batches, qc, storage

    _as(session, users["tech2"])
    batches.verify_steps(session, batch, users["tech2"], DEMO_PASSWORD, "witnessed at the GenFMTer", "demo")
    _as(session, users["tech"])
    qc.record(session, batch, QC_PASS, tested_on, "microbiology QC laboratory", None, lab_today())
    _as(session, users["tech2"])
    qc.verify(session, batch, users["tech2"], DEMO_PASSWORD, "checked against the QC reports", "demo")
    _as(session, users["tech"])
    # The units go into the box in one scan session, signed once (as at the freezer with a scanner).
    scans = "\n".join(f"LIMS:DU:{u.code}" for u in storage.units_of(session, batch))
    loc = storage.location(session, box)
    plan, _problems, records = storage.session_plan(session, loc, batch.lot, scans, f"{first_row}1", utcnow())
    storage.store_session(
        session,
        loc,
        batch.lot,
        scans,
        f"{first_row}1",
        storage.session_content(records, plan),
        users["tech"],
        DEMO_PASSWORD,
        utcnow(),
        "demo",
    )


def _demo_manufacturing_before_rescreen(session, users, donor, today):
    from .manufacturing import qc
    from .manufacturing.spec import seed_default_spec

    seed_default_spec(session)
    _demo_storage(session, users)
    day = today - timedelta(days=20)
    donation = _demo_donation(session, users, donor, _at(day, 8, 10))
    batch = _demo_batch(session, users, donation, _at(day, 9, 5))
    _as(session, users["tech"])
    dev = qc.open_deviation(
        session,
        batch,
        "manual",
        "Centrifuge EQ-CEN-01 lid alarm during wash 2; the run paused for 2 min and resumed at the same settings.",
    )
    _as(session, users["tech2"])
    qc.update_deviation(
        session,
        dev,
        version_token(dev),
        "Lid sensor contact dirty; cleaned and tested by engineering. "
        "Wash 2 time and g-force were met (run log GFM-2026-0187).",
        "No impact on the product. Sensor added to the weekly cleaning checklist.",
        None,
    )
    _as(session, users["qa2"])
    qc.close_deviation(
        session, dev, version_token(dev), users["qa2"], DEMO_PASSWORD, "impact assessment accepted", "demo"
    )
    _demo_qc_and_storage(session, users, batch, day + timedelta(days=2), "FRZ-01-R1-B1", "A")


def _demo_manufacturing_after_rescreen(session, users, donor, today):
    from .manufacturing import batches, release

    # Released: the re-screening (samples after the donation) cleared the donor.
    first = session.exec(_batches_of(donor)).first()
    _as(session, users["qa"])
    release.record_review(session, first, users["qa"], DEMO_PASSWORD, "complete; no unexplained changes", "demo")
    release.release(session, first, users["qa"], DEMO_PASSWORD, None, "demo")
    # Quarantine: donated after the re-screening's samples; waits for the next screening.
    day = today - timedelta(days=2)
    second = _demo_batch(
        session, users, _demo_donation(session, users, donor, _at(day, 7, 50)), _at(day, 8, 40), run="GFM-2026-0191"
    )
    _demo_qc_and_storage(session, users, second, day + timedelta(days=1), "FRZ-01-R1-B1", "B")
    # Rejected: collected the day before, processing could not start within the limit.
    day = today - timedelta(days=1)
    late = _demo_donation(session, users, donor, _at(day, 6, 30))
    _as(session, users["tech"])
    batches.start(session, late, "EQ-GFM-01", "GFM-2026-0193", _at(day, 12, 45), users["tech"], utcnow())
    # In process today: homogenisation and microfiltration recorded, not yet verified.
    now = utcnow()
    today_donation = _demo_donation(
        session,
        users,
        donor,
        now - timedelta(minutes=150),
        day_check=to_lab(now - timedelta(minutes=150)).date() != day,
    )
    _demo_batch(session, users, today_donation, now - timedelta(minutes=100), steps=2, run="GFM-2026-0195")


def _batches_of(donor):
    from sqlmodel import select

    from .manufacturing.models import Batch

    return select(Batch).where(Batch.donor_id == donor.id).order_by(Batch.id)


# --- recipients --------------------------------------------------------------------------------------
# The reference cohort (domain.md section 1): all stage IV after multi-line treatment failure, FMT day 1
# in 2019. Ages are at FMT day 1; consent a week before it. Names and hospital numbers are invented.
COHORT = [
    ("F", 47, "Right lung adenocarcinoma", "brain, bone", 7, 3, date(2019, 12, 27), "Chen Xiu", "H2019-0451"),
    ("M", 62, "Renal clear cell carcinoma", "intestine, abdominal", 2, 2, date(2019, 6, 5), "Huang Gang", "H2019-0188"),
    (
        "M",
        55,
        "Rectal adenocarcinoma",
        "bladder, lungs, pelvic cavity",
        5,
        2,
        date(2019, 3, 16),
        "Lin Qiang",
        "H2019-0093",
    ),
    ("M", 75, "Sigmoid colon adenocarcinoma", "liver", 7, 3, date(2019, 4, 15), "Xu Ming", "H2019-0122"),
    (
        "F",
        50,
        "Right lung adenocarcinoma",
        "lung, abdominal cavity, bone, liver",
        9,
        4,
        date(2019, 2, 28),
        "Ma Li",
        "H2019-0067",
    ),
]


def _demo_recipients(session, users) -> int:
    from sqlmodel import select

    from .clinical import recipients
    from .clinical.models import RecipientIdentity

    _as(session, users["clinician"])
    today = lab_today()
    created = 0
    for sex, age, diagnosis, metastases, lines, ecog, day1, name, hospital_number in COHORT:
        if session.exec(select(RecipientIdentity).where(RecipientIdentity.hospital_number == hospital_number)).first():
            continue
        recipients.register(
            session,
            {
                "study": "WMT-TORI (FMT + toripalimab, exploratory)",
                "sex": "female" if sex == "F" else "male",
                "date_of_birth": date(day1.year - age, 1, 1),
                "diagnosis": diagnosis,
                "stage": "IV",
                "tnm": "",
                "metastasis_sites": metastases,
                "ecog": ecog,
                "prior_lines": lines,
                "consent_date": day1 - timedelta(days=7),
                "notes": f"Reference cohort; FMT day 1 on {day1}",
            },
            {"full_name": name, "hospital_number": hospital_number, "phone": ""},
            today,
        )
        created += 1
    return created


# --- courses --------------------------------------------------------------------------------------
# P4 of the reference study had fever up to 38.4 C (grade 1) around FMT days 2-3, treated with an
# indometacin suppository. In the demo lab his course runs now, with units of the released batch: day 1
# three days ago, day 2 postponed a day for fever and given yesterday (38.4 C two hours later: the AE),
# day 3 today with its unit reserved for the lab to issue. P1's course is planned for next week.


def _label_for_issue(session, u, tech, day) -> None:
    """What the lab does before the 08:40 issue: thaw at 08:30, print the thawed label, scan it back.

    Through the same operations as the unit page, so the demo's issued units carry verified labels of the
    state they were issued in (labels.reconcile)."""
    from flask import current_app

    from .labels import printing, reconcile
    from .labels.layouts import all_layouts
    from .manufacturing import storage

    storage.thaw(session, u, _at(day, 8, 30), tech, _at(day, 8, 30))
    printing.print_labels(
        session,
        "DU",
        u.code,
        all_layouts()["tube_50x30"],
        "pdf",
        "thawed for issue",
        current_app.config,
        now=_at(day, 8, 35),
    )
    reconcile.verify(session, u, f"LIMS:DU:{u.code}", tech, _at(day, 8, 36))


def _demo_courses(session, users) -> int:
    from sqlmodel import select

    from .clinical import administrations, adverse_events, courses, dispensing, recipients
    from .manufacturing.models import Batch, DoseUnit

    courses.seed_default_template(session)
    p4, p1 = recipients.by_code(session, "P-0004"), recipients.by_code(session, "P-0001")
    if p4 is None or courses.courses_of(session, p4):
        return 0
    released = session.exec(select(Batch).where(Batch.status == "released").order_by(Batch.id)).first()
    if released is None:
        return 0
    units = list(
        session.exec(
            select(DoseUnit)
            .where(DoseUnit.batch_id == released.id, DoseUnit.status == "available")
            .order_by(DoseUnit.seq)
        ).all()
    )
    template = courses.active_templates(session)[0]
    today = lab_today()
    day1 = today - timedelta(days=3)
    nurse, tech = users["clinician"], users["tech"]
    _as(session, nurse)
    course = courses.plan(session, p4, template.id, day1, True, day1)
    d1, d2, d3 = courses.administrations(session, course)

    def give(dose, day, hh, temps):
        _as(session, nurse)
        dispensing.reserve(session, dose, units.pop(0).code, _at(day, 7, 0))
        _as(session, tech)
        _label_for_issue(session, session.get(DoseUnit, dose.unit_id), tech, day)
        dispensing.issue(session, session.get(DoseUnit, dose.unit_id).code, tech, _at(day, 8, 40), day)
        _as(session, nurse)
        given_at = _at(day, hh, 0)
        administrations.administer(
            session,
            dose,
            dose.version,
            {
                "patient": p4.code,
                "identity_confirmed": True,
                "tube_confirmed": True,
                "tube_date": day1,
                "tube_method": "placed under gastroscopy; position confirmed by X-ray",
                "fasting": True,
                "unit": session.get(DoseUnit, dose.unit_id).code,
                "given_at": given_at,
                "volume_ml": Decimal("120"),
                "instructions": ("position", "no_food"),
                "note": None,
            },
            nurse,
            given_at + timedelta(minutes=5),
            day,
        )
        for minutes, temp in temps:
            administrations.record_observation(
                session,
                dose,
                {
                    "minutes_after": minutes,
                    "observed_at": given_at + timedelta(minutes=minutes),
                    "temperature_c": Decimal(temp),
                    "diarrhoea": False,
                    "abdominal_pain": False,
                    "nausea_vomiting": False,
                    "note": None,
                },
                given_at + timedelta(minutes=minutes + 5),
            )
        return given_at

    give(d1, day1, 9, [(30, "36.8"), (120, "37.2"), (240, "37.6")])
    _as(session, users["clinician"])
    courses.postpone(
        session,
        d2,
        d2.version,
        day1 + timedelta(days=2),
        "fever",
        "38.2 C in the evening of day 1; day 2 moved by one day (protocol: interval if fever)",
        day1 + timedelta(days=1),
    )
    day2 = day1 + timedelta(days=2)
    given2 = give(d2, day2, 9, [(30, "37.0"), (120, "38.4"), (240, "37.9")])
    adverse_events.record(
        session,
        p4,
        {
            "term_code": "10016558",
            "grade": 1,
            "description": "38.4 C two hours after the day-2 infusion; indometacin "
            "suppository; afebrile the next morning.",
            "onset_date": day2,
            "resolved_date": day2 + timedelta(days=1),
            "seriousness": (),
            "expected": None,
            "attribution_fmt": "possible",
            "attribution_cotherapy": "unrelated",
            "action_taken": "medication",
            "outcome": "recovered",
            "administration_id": d2.id,
            "aware_at": given2 + timedelta(minutes=125),
        },
        given2 + timedelta(days=1),
        today,
    )
    _as(session, nurse)
    d3 = courses.administration(session, d3.code)
    dispensing.reserve(session, d3, units.pop(0).code, utcnow())
    if p1 is not None:
        courses.plan(session, p1, template.id, today + timedelta(days=7), True, today)
    # A unit thawed this morning for a dose that was then moved: past its 6 h window, the scheduler expires
    # it and the technicians' due-work list asks for it to be discarded.
    from .manufacturing import storage

    _as(session, tech)
    spare = units.pop(0)
    storage.thaw(session, spare, utcnow() - timedelta(hours=7), tech, utcnow())
    return 2
