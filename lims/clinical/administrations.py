"""The dose at the bedside: every check before the infusion, then the record of it and the observations after."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.trail import audit_event, change_reason
from ..core.scan import expect
from ..db import defer_write
from ..errors import RuleViolation
from ..manufacturing.models import DoseUnit
from ..timefmt import to_lab
from . import course_rules as rules
from .course_models import Administration, Course, Observation
from .courses import administrations, refresh_status, template_of
from .dispensing import thaw_hours, unit_facts
from .explain import text, texts
from .models import Recipient


def check_unit(session, a: Administration, scanned: str, now: datetime) -> list[tuple[str, dict]]:
    """The scanned unit against this dose: the same checks the bedside form runs, for the scan preview."""
    ident, problem, _found = expect(scanned or "", "DU")
    if problem == "wrong_type":
        return [("wrong_type", {})]
    u = session.exec(select(DoseUnit).where(DoseUnit.code == ident)).first() if ident else None
    recipient = session.get(Recipient, a.recipient_id)
    facts = unit_facts(session, u) if u else None
    return rules.unit_problems(facts, ident or scanned, a.code, recipient.code, now, thaw_hours(session, u) if u else 6)


def administer(session, a: Administration, expected_version, data: dict, user, now: datetime, today) -> Administration:
    """Record the infusion; refused, with every reason, unless patient, plan, pre-conditions and unit all check out."""
    check_version(session, a, expected_version)
    c = session.get(Course, a.course_id)
    t = template_of(session, c)
    recipient = session.get(Recipient, a.recipient_id)
    earlier = tuple(d.day for d in administrations(session, c) if d.day < a.day and d.status == "planned")
    u = session.get(DoseUnit, a.unit_id) if a.unit_id else None
    facts = rules.BedsideFacts(
        admin_code=a.code,
        recipient_code=recipient.code,
        scanned_patient=_patient_code(data.get("patient")),
        identity_confirmed=bool(data.get("identity_confirmed")),
        status=a.status,
        scheduled=a.scheduled_date,
        today=today,
        earlier_days_open=earlier,
        tube_confirmed=bool(data.get("tube_confirmed")),
        tube_date=data.get("tube_date"),
        tube_method=data.get("tube_method") or "",
        fasting=bool(data.get("fasting")),
        volume_ml=data.get("volume_ml"),
        unit_volume_ml=u.volume_ml if u else None,
        given_at=data.get("given_at"),
        now=now,
        issued_at=a.issued_at,
        given_on=to_lab(data["given_at"]).date() if data.get("given_at") else None,
    )
    # The unit is judged at the moment of the infusion (a dose recorded a little later is not refused for
    # a thaw window that closed after it went in); a future time is refused by the bedside rules anyway.
    at = data["given_at"] if data.get("given_at") and data["given_at"] <= now else now
    problems = rules.bedside_problems(facts) + check_unit(session, a, data.get("unit") or "", at)
    missing = [p for p in t.post_instructions if p.code not in (data.get("instructions") or ())]
    if missing:
        problems.append(("instructions", {}))
    if problems:
        message = " ".join(
            _instruction_text() if code == "instructions" else text(code, params) for code, params in problems
        )
        # A refused bedside check is a near miss: it stays in the audit trail although nothing is saved.
        codes = ", ".join(code for code, _p in problems)
        scanned, admin_code = (data.get("unit") or "").strip()[:60], a.code
        defer_write(
            session,
            lambda s: audit_event(
                s, "administration_refused", "administration", admin_code, field="unit", new=scanned, reason=codes
            ),
        )
        raise RuleViolation(message)
    with change_reason(session, f"administered {u.code}"):
        a.status, a.given_at, a.given_by_id = "given", data["given_at"], user.id
        a.volume_ml, a.route = data["volume_ml"], t.route
        a.tube_confirmed_on, a.tube_method = data["tube_date"], data["tube_method"].strip()
        a.fasting, a.identity_checked = True, True
        a.instructions_given = ",".join(p.code for p in t.post_instructions)
        a.note = (data.get("note") or "").strip() or None
        u.status = "administered"
    session.flush()
    refresh_status(session, c)
    return a


def _instruction_text() -> str:
    return _("Confirm that the post-infusion instructions were given to the patient.")


def _patient_code(scanned) -> str:
    ident, problem, _found = expect(scanned or "", "PT")
    return "" if problem else ident


def observations(session, a: Administration) -> list[Observation]:
    return list(
        session.exec(
            select(Observation).where(Observation.administration_id == a.id).order_by(Observation.minutes_after)
        ).all()
    )


def record_observation(session, a: Administration, data: dict, now: datetime) -> Observation:
    if a.status != "given":
        raise RuleViolation(_("Observations follow a dose that was given."))
    t = template_of(session, session.get(Course, a.course_id))
    minutes = data.get("minutes_after")
    observed_at = data.get("observed_at") or (a.given_at + timedelta(minutes=minutes) if minutes else None)
    temp = data.get("temperature_c")
    temp = Decimal(str(temp)) if temp is not None else None
    problems = rules.observation_problems(
        minutes,
        t.observation_minutes,
        temp,
        observed_at,
        a.given_at,
        now,
        {o.minutes_after for o in observations(session, a)},
    )
    if problems:
        raise RuleViolation(texts(problems))
    o = Observation(
        administration_id=a.id,
        admin_code=a.code,
        minutes_after=minutes,
        observed_at=observed_at,
        temperature_c=temp,
        diarrhoea=bool(data.get("diarrhoea")),
        abdominal_pain=bool(data.get("abdominal_pain")),
        nausea_vomiting=bool(data.get("nausea_vomiting")),
        note=(data.get("note") or "").strip() or None,
    )
    session.add(o)
    session.flush()
    return o


def due_today(session, day) -> list[Administration]:
    return list(
        session.exec(
            select(Administration)
            .where(Administration.scheduled_date == day)
            .order_by(Administration.status.desc(), Administration.code)
        ).all()
    )
