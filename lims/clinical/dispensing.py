"""Dose units for a patient: reserve for a planned dose, issue from the lab with a scan, return or discard."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.trail import change_reason
from ..core.scan import expect
from ..errors import RuleViolation
from ..labels import reconcile
from ..manufacturing import storage
from ..manufacturing.batches import limits_for
from ..manufacturing.models import Batch, DoseUnit
from ..timefmt import lab_day_bounds_utc
from . import course_rules as rules
from .course_models import Administration, Course
from .explain import text, texts
from .models import Recipient


def thaw_hours(session, u: DoseUnit) -> int:
    return limits_for(session, session.get(Batch, u.batch_id)).thaw_use_hours


def unit_facts(session, u: DoseUnit) -> rules.UnitFacts:
    from ..donors.models import Donor

    batch = session.get(Batch, u.batch_id)
    admin = session.exec(
        select(Administration).where(Administration.unit_id == u.id, Administration.status != "cancelled")
    ).first()
    recipient = session.get(Recipient, admin.recipient_id).code if admin else None
    return rules.UnitFacts(
        code=u.code,
        status=u.status,
        storage=u.storage,
        expires_at=u.expires_at,
        expiry_date=u.expiry_date,
        thawed_at=u.thawed_at,
        donor_code=session.get(Donor, batch.donor_id).code,
        batch_status=batch.status,
        reserved_for=admin.code if admin else None,
        reserved_recipient=recipient,
        production_day=batch.production_day,
    )


def course_donor(session, a: Administration) -> str | None:
    """The donor of the units this course already used or holds (the same-donor preference follows it)."""
    from ..donors.models import Donor

    row = session.exec(
        select(Donor.code)
        .join(Batch, Batch.donor_id == Donor.id)
        .join(DoseUnit, DoseUnit.batch_id == Batch.id)
        .join(Administration, Administration.unit_id == DoseUnit.id)
        .where(Administration.course_id == a.course_id, Administration.id != a.id)
        .order_by(Administration.day)
    ).first()
    return row


def _prefer(session, a: Administration) -> str | None:
    c = session.get(Course, a.course_id)
    return course_donor(session, a) if c.same_donor else None


def candidates(session, a: Administration, now: datetime, limit: int = 20) -> list[rules.UnitFacts]:
    """Released units usable on the dose's day, the course's donor first, then first-expiring first."""
    start, _end = lab_day_bounds_utc(a.scheduled_date)
    rows = session.exec(
        select(DoseUnit)
        .where(DoseUnit.status == "available", DoseUnit.expires_at > max(now, start))
        .order_by(DoseUnit.expires_at)
        .limit(200)
    ).all()
    facts = [unit_facts(session, u) for u in rows]
    ok = [
        f
        for f, u in zip(facts, rows)
        if not rules.reservation_problems(f, a.scheduled_date, now, thaw_hours(session, u), start)
    ]
    return rules.rank_candidates(ok, _prefer(session, a))[:limit]


def reserve(session, a: Administration, scanned: str, now: datetime) -> DoseUnit:
    if a.status != "planned":
        raise RuleViolation(text("not_planned", {"status": a.status}))
    if a.unit_id is not None:
        raise RuleViolation(_("A unit is already reserved for this dose: cancel that reservation first."))
    u = _scanned_unit(session, scanned)
    f = unit_facts(session, u)
    start, _end = lab_day_bounds_utc(a.scheduled_date)
    problems = rules.reservation_problems(f, a.scheduled_date, now, thaw_hours(session, u), start)
    if problems:
        raise RuleViolation(texts(problems))
    if current_app.config.get("SAME_DONOR_PREFERENCE", True):
        other = rules.same_donor_problem(f, _prefer(session, a), candidates(session, a, now))
        if other:
            raise RuleViolation(text(*other))
    with change_reason(session, f"reserved for {a.code}"):
        u.status = "reserved"
        a.unit_id = u.id
    session.flush()
    return u


def cancel_reservation(session, a: Administration, reason: str) -> DoseUnit:
    if a.unit_id is None:
        raise RuleViolation(text("no_unit"))
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required."))
    u = session.get(DoseUnit, a.unit_id)
    if u.status not in ("reserved", "recalled", "expired"):
        raise RuleViolation(_("Unit %(code)s was already issued: return or discard it instead.", code=u.code))
    with change_reason(session, f"reservation for {a.code} cancelled: {reason.strip()}"):
        if u.status == "reserved":
            u.status = "available"
        # a recalled or expired unit keeps its status (it is never given); the dose is freed for another unit
        a.unit_id, a.issued_at, a.issued_by_id = None, None, None
    session.flush()
    return u


def release_if_unusable(session, a: Administration) -> None:
    """After a postponement: a reserved (not issued) unit that expires before the new day goes back to stock."""
    if a.unit_id is None or a.status != "planned":
        return
    u = session.get(DoseUnit, a.unit_id)
    start, _end = lab_day_bounds_utc(a.scheduled_date)
    if u.status == "reserved" and u.expires_at <= start:
        with change_reason(session, f"reservation for {a.code} released: expires before {a.scheduled_date}"):
            u.status = "available"
            a.unit_id = None


def issue(session, scanned: str, user, now: datetime, today) -> Administration:
    """The lab hands out a reserved unit for today's dose, under a verified label of its current state.

    A frozen unit is thawed (and its thaw recorded) before it is issued: the thaw changes what its label must
    say (USE BY thaw + N h, 2-8 °C), so the thawed label is printed and scanned back first (``labels.reconcile``)."""
    u = _scanned_unit(session, scanned)
    a = session.exec(select(Administration).where(Administration.unit_id == u.id)).first()
    if a is None or u.status != "reserved":
        if u.status == "issued":
            raise RuleViolation(_("Unit %(code)s was already issued.", code=u.code))
        raise RuleViolation(
            _("Unit %(code)s is not reserved for any patient: reserve it for a dose first.", code=u.code)
        )
    if a.scheduled_date != today:
        raise RuleViolation(text("not_today", {"date": a.scheduled_date}))
    problem = storage.use_problem(session, u, now)
    if problem:
        raise RuleViolation(problem)
    if u.storage == "frozen" and u.thawed_at is None:
        raise RuleViolation(
            _(
                "Unit %(code)s is still frozen: record its thaw on the unit page, print the thawed "
                'label and scan it into "Verify label", then issue it.',
                code=u.code,
            )
        )
    label_problem = reconcile.issue_problem(session, u, now)
    if label_problem:
        raise RuleViolation(label_problem)
    with change_reason(session, f"issued for {a.code}"):
        u.status, u.box_id, u.position = "issued", None, None
        a.issued_at, a.issued_by_id = now, user.id
    session.flush()
    return a


def return_unit(session, a: Administration, box: str, position: str, reason: str, now: datetime) -> DoseUnit:
    """An issued dose not given goes back to stock only if never thawed; it becomes available again."""
    if a.unit_id is None:
        raise RuleViolation(text("no_unit"))
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required."))
    u = session.get(DoseUnit, a.unit_id)
    problem = rules.return_problem(unit_facts(session, u))
    if problem:
        raise RuleViolation(text(*problem))
    with change_reason(session, f"returned from {a.code}: {reason.strip()}"):
        u.status = "available"
        a.unit_id, a.issued_at, a.issued_by_id = None, None, None
    session.flush()
    storage.place(session, u, box, position, note=reason, now=now)
    return u


def discard_unit(session, a: Administration, reason: str) -> DoseUnit:
    """A reserved or issued dose that will not be given (thawed, damaged, patient postponed) is discarded."""
    if a.unit_id is None:
        raise RuleViolation(text("no_unit"))
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required to discard a unit."))
    u = session.get(DoseUnit, a.unit_id)
    if u.status not in ("reserved", "issued"):
        raise RuleViolation(text("unit_status", {"code": u.code, "status": u.status}))
    with change_reason(session, f"discarded from {a.code}: {reason.strip()}"):
        u.status, u.status_reason, u.box_id, u.position = "discarded", reason.strip(), None, None
        a.unit_id, a.issued_at, a.issued_by_id = None, None, None
    session.flush()
    return u


def _scanned_unit(session, scanned: str) -> DoseUnit:
    ident, problem, _found = expect(scanned or "", "DU")
    if problem == "wrong_type":
        raise RuleViolation(text("wrong_type"))
    if problem or not ident:
        raise RuleViolation(text("unit_unknown", {"code": (scanned or "").strip() or "-"}))
    u = session.exec(select(DoseUnit).where(DoseUnit.code == ident)).first()
    if u is None:
        raise RuleViolation(text("unit_unknown", {"code": ident}))
    return u
