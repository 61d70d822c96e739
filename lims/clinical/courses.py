"""Course templates, planning a course, postponing a dose, co-therapy records."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.trail import change_reason
from ..errors import NotFound, RuleViolation
from . import course_rules as rules
from .course_models import Administration, CoTherapy, Course, CourseTemplate, Postponement
from .explain import texts
from .models import Recipient

DEFAULT_FILE = Path(__file__).with_name("default_course.json")
OPEN_STATUSES = ("planned", "in_progress")


def seed_default_template(session) -> CourseTemplate | None:
    """Create the reference protocol's template (version 1) unless a template with its code exists."""
    data = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    rules.parse_template(data)
    if session.exec(select(CourseTemplate).where(CourseTemplate.code == data["code"])).first() is not None:
        return None
    t = CourseTemplate(
        code=data["code"], template_version=int(data["version"]), title=data["title"], body=rules.template_json(data)
    )
    session.add(t)
    session.flush()
    return t


def active_templates(session) -> list[CourseTemplate]:
    return list(
        session.exec(
            select(CourseTemplate)
            .where(CourseTemplate.status == "active")
            .order_by(CourseTemplate.code, CourseTemplate.template_version)
        ).all()
    )


def template_of(session, course_or_id) -> rules.Template:
    tid = course_or_id.template_id if isinstance(course_or_id, Course) else course_or_id
    return rules.parse_template(json.loads(session.get(CourseTemplate, tid).body))


def template_row(session, template_id) -> CourseTemplate:
    t = session.get(CourseTemplate, template_id)
    if t is None or t.status != "active":
        raise RuleViolation(_("Choose an active course template."))
    return t


def courses_of(session, r: Recipient) -> list[Course]:
    return list(session.exec(select(Course).where(Course.recipient_id == r.id).order_by(Course.id)).all())


def course(session, code: str) -> Course:
    c = session.exec(select(Course).where(Course.code == (code or "").strip().upper())).first()
    if c is None:
        raise NotFound(_("No course has the code %(code)s.", code=code))
    return c


def administrations(session, c: Course) -> list[Administration]:
    return list(
        session.exec(select(Administration).where(Administration.course_id == c.id).order_by(Administration.day)).all()
    )


def administration(session, code: str) -> Administration:
    a = session.exec(select(Administration).where(Administration.code == (code or "").strip().upper())).first()
    if a is None:
        raise NotFound(_("No administration has the code %(code)s.", code=code))
    return a


def plan(session, r: Recipient, template_id: int, day1: date | None, same_donor: bool, today: date) -> Course:
    """A course and one planned dose per template day; nothing is reserved yet."""
    row = template_row(session, template_id)
    t = rules.parse_template(json.loads(row.body))
    existing = courses_of(session, r)
    problems = rules.plan_problems(day1, today, r.consent_date, any(c.status in OPEN_STATUSES for c in existing))
    if problems:
        raise RuleViolation(texts(problems))
    c = Course(
        code=f"{r.code}-C{len(existing) + 1}",
        recipient_id=r.id,
        template_id=row.id,
        day1=day1,
        same_donor=bool(same_donor),
    )
    session.add(c)
    session.flush()
    for day, when in rules.plan_dates(t, day1).items():
        session.add(
            Administration(
                code=f"{c.code}-D{day}",
                course_id=c.id,
                recipient_id=r.id,
                day=day,
                planned_date=when,
                scheduled_date=when,
            )
        )
    session.flush()
    return c


def postpone(
    session, a: Administration, expected_version, new_date: date | None, reason_code: str, reason: str, today: date
) -> Postponement:
    """Move this dose and the later ones; a reserved unit that would expire first goes back to stock."""
    from .dispensing import release_if_unusable

    check_version(session, a, expected_version)
    problems = rules.postpone_problems(
        a.status, a.scheduled_date, new_date, reason_code, reason, today, unit_issued=a.issued_at is not None
    )
    if problems:
        raise RuleViolation(texts(problems))
    c = session.get(Course, a.course_id)
    doses = administrations(session, c)
    schedule = rules.postpone({d.day: d.scheduled_date for d in doses if d.status == "planned"}, a.day, new_date)
    p = Postponement(
        administration_id=a.id,
        admin_code=a.code,
        from_date=a.scheduled_date,
        to_date=new_date,
        reason_code=reason_code,
        reason=reason.strip(),
    )
    session.add(p)
    session.flush()
    note = f"postponed ({reason_code}): {reason.strip()}"
    with change_reason(session, note):
        for d in doses:
            if d.day in schedule and schedule[d.day] != d.scheduled_date:
                d.scheduled_date = schedule[d.day]
    session.flush()
    for d in doses:
        release_if_unusable(session, d)
    return p


def refresh_status(session, c: Course) -> None:
    """planned -> in progress at the first dose given -> completed when no dose is left planned."""
    doses = administrations(session, c)
    given = [d for d in doses if d.status == "given"]
    status = c.status
    if given and all(d.status != "planned" for d in doses):
        status = "completed"
    elif given:
        status = "in_progress"
    if status != c.status:
        with change_reason(session, f"course {status}"):
            c.status = status


def record_co_therapy(session, r: Recipient, data: dict, today: date) -> CoTherapy:
    problems = []
    for key, message in (
        ("drug", _("Enter the drug.")),
        ("dose", _("Enter the dose.")),
        ("route", _("Enter the route.")),
    ):
        if not (data.get(key) or "").strip():
            problems.append(message)
    given_on = data.get("given_on")
    if given_on is None:
        problems.append(_("Enter the date given."))
    elif given_on > today:
        problems.append(_("The date %(date)s is in the future.", date=given_on))
    if problems:
        raise RuleViolation(" ".join(problems))
    open_course = next((c for c in reversed(courses_of(session, r))), None)
    ct = CoTherapy(
        recipient_id=r.id,
        recipient_code=r.code,
        course_id=open_course.id if open_course else None,
        drug=data["drug"].strip(),
        dose=data["dose"].strip(),
        route=data["route"].strip(),
        given_on=given_on,
        cycle=data.get("cycle"),
        note=(data.get("note") or "").strip() or None,
    )
    session.add(ct)
    session.flush()
    return ct


def co_therapies(session, r: Recipient) -> list[CoTherapy]:
    return list(
        session.exec(select(CoTherapy).where(CoTherapy.recipient_id == r.id).order_by(CoTherapy.given_on)).all()
    )


def postponements(session, admin_ids) -> list[Postponement]:
    if not admin_ids:
        return []
    return list(
        session.exec(
            select(Postponement).where(Postponement.administration_id.in_(admin_ids)).order_by(Postponement.id)
        ).all()
    )


# --- what the recipient and course pages read ----------------------------------------------------


def template_choices(session):
    return [(str(t.id), f"{t.title} ({t.code} v{t.template_version})") for t in active_templates(session)]


def timeline(session, c):
    """Each dose: planned day, scheduled day, actual time, unit and its batch/donor, postponements."""
    from ..donors.models import Donor
    from ..manufacturing.models import Batch, DoseUnit
    from ..timefmt import to_lab

    doses = administrations(session, c)
    pps = postponements(session, [d.id for d in doses])
    rows = []
    for d in doses:
        u = session.get(DoseUnit, d.unit_id) if d.unit_id else None
        b = session.get(Batch, u.batch_id) if u else None
        donor = session.get(Donor, b.donor_id).code if b else None
        given_on = to_lab(d.given_at).date() if d.given_at else None
        rows.append(
            {
                "dose": d,
                "unit": u,
                "batch": b,
                "donor": donor,
                "given_on": given_on,
                "late_days": rules.planned_vs_actual(d.planned_date, given_on),
                "postponements": [p for p in pps if p.administration_id == d.id],
            }
        )
    return rows


def default_co_therapy(session, r):
    """The co-therapy form prefilled from the course template (e.g. toripalimab 200 mg IV on day 3)."""
    courses = courses_of(session, r)
    if not courses:
        return {}
    c = courses[-1]
    plan = template_of(session, c).co_therapy
    if not plan:
        return {}
    p = plan[0]
    doses = {d.day: d for d in administrations(session, c)}
    on = doses.get(p.on_day)
    given = co_therapies(session, r)
    return {
        "drug": p.drug,
        "dose": p.dose,
        "route": p.route,
        "cycle": len(given) + 1,
        "given_on": (on.scheduled_date if on and not given else None),
    }
