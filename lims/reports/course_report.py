"""The recipient course report: one FMT course planned against given, what followed each dose, and the adverse events.

``collect`` reads everything in one read-only pass; ``build`` lays it out.
The recipient appears only by code: name and hospital number are never read.
The document version names the form revision, the course, its record version
and the newest audit row of the course and its doses (record ids starting
with the course code), of the recipient's adverse events, the co-therapy
printed and the recipient's study record, so two printouts of the same state
carry the same version and any later change gives a new one. Prints of the
report itself are not counted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _
from reportlab.lib import colors
from sqlalchemy import func
from sqlmodel import select

from ..audit.models import AuditEntry
from ..auth.models import User
from ..clinical import adverse_events, course_rules, courses
from ..clinical.administrations import observations
from ..clinical.course_models import Course
from ..clinical.explain import (
    ACTION_LABELS,
    ADMIN_STATUS_LABELS,
    ATTRIBUTION_LABELS,
    COURSE_STATUS_LABELS,
    GRADE_MEANING,
    OUTCOME_LABELS,
    POSTPONE_LABELS,
    SERIOUSNESS_LABELS,
    localised,
)
from ..clinical.forms import SEX_CHOICES
from ..clinical.models import Recipient
from ..ctcae import catalogue as ctcae
from ..donors.models import Donor
from ..manufacturing.models import Batch, DoseUnit
from ..timefmt import format_dt, to_lab
from . import document as doc

FORM = "FMT-CR rev 1"
NOT_COUNTED = ("report", "print")  # printing the report or a label changes nothing in the record
FEVER_C = 38


def _who(session, user_id) -> str:
    u = session.get(User, user_id) if user_id else None
    return u.full_name if u else ""


def last_audit_id(session, c: Course, r: Recipient, ae_codes: list[str], co_ids: list[str]) -> int:
    """The newest audit row of the course, its doses (and their postponements and observations), the AEs,
    the co-therapy and the recipient's study record; prints left out."""
    clause = (
        (AuditEntry.record_id == c.code)
        | AuditEntry.record_id.startswith(f"{c.code}-", autoescape=True)
        | ((AuditEntry.entity == "recipient") & (AuditEntry.record_id == r.code))
    )
    if ae_codes:
        clause = clause | AuditEntry.record_id.in_(ae_codes)
    if co_ids:
        clause = clause | ((AuditEntry.entity == "co_therapy") & AuditEntry.record_id.in_(co_ids))
    return session.exec(select(func.max(AuditEntry.id)).where(clause, AuditEntry.action.not_in(NOT_COUNTED))).one() or 0


def collect(session, course: Course) -> dict:
    """Everything the report prints, read once."""
    c = course
    r = session.get(Recipient, c.recipient_id)
    doses = courses.administrations(session, c)
    pps = courses.postponements(session, [d.id for d in doses])
    units = (
        {
            u.id: u
            for u in session.exec(select(DoseUnit).where(DoseUnit.id.in_([d.unit_id for d in doses if d.unit_id])))
        }
        if any(d.unit_id for d in doses)
        else {}
    )
    batches = (
        {b.id: b for b in session.exec(select(Batch).where(Batch.id.in_({u.batch_id for u in units.values()})))}
        if units
        else {}
    )
    donors = (
        {d.id: d.code for d in session.exec(select(Donor).where(Donor.id.in_({b.donor_id for b in batches.values()})))}
        if batches
        else {}
    )
    rows = []
    for d in doses:
        u = units.get(d.unit_id)
        b = batches.get(u.batch_id) if u else None
        given_on = to_lab(d.given_at).date() if d.given_at else None
        rows.append(
            {
                "dose": d,
                "unit": u,
                "lot": b.lot if b else "",
                "donor": donors.get(b.donor_id, "") if b else "",
                "operator": _who(session, d.given_by_id),
                "late_days": course_rules.planned_vs_actual(d.planned_date, given_on),
                "postponements": [p for p in pps if p.administration_id == d.id],
                "observations": observations(session, d),
            }
        )
    co = [ct for ct in courses.co_therapies(session, r) if ct.course_id == c.id]
    aes = sorted(adverse_events.listing(session, recipient=r, limit=10_000), key=lambda ae: ae.id)
    traced = adverse_events.traces(session, aes)
    cat = ctcae.default()
    grade_texts = {}
    for ae in aes:
        term = cat.by_code(ae.term_code) if cat.version == ae.ctcae_version else None
        grade_texts[ae.id] = term.grades.get(ae.grade, "") if term else ""
    return {
        "course": c,
        "recipient": r,
        "template": courses.template_of(session, c),
        "rows": rows,
        "co_therapy": co,
        "aes": aes,
        "grade_texts": grade_texts,
        "followed": {ae_id: t["administration"].code for ae_id, t in traced.items()},
        "last_audit_id": last_audit_id(session, c, r, [ae.code for ae in aes], [ct.audit_record_id for ct in co]),
    }


def doc_version(data: dict) -> str:
    c = data["course"]
    return _(
        "%(form)s · course %(code)s · record version %(v)s · audit trail to #%(row)s",
        form=FORM,
        code=c.code,
        v=c.version,
        row=data["last_audit_id"],
    )


def _when(dt: datetime | None) -> str:
    """Date over time and zone: a narrow column breaks where it should."""
    return format_dt(dt).replace(" ", "\n", 1) if dt else ""


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _yes_no(flag: bool) -> str:
    return _("yes") if flag else _("no")


def build(data: dict, generated_by: str, generated_at: datetime) -> bytes:
    st = doc.styles()
    red = doc.styles()["alert_cell"]
    c, r, t = data["course"], data["recipient"], data["template"]
    # Recipient: the study record, by code only
    sexes = dict(SEX_CHOICES)
    story = doc.section(
        _("Recipient"),
        doc.facts(
            [
                (_("Recipient"), r.code),
                (_("Study"), r.study),
                (_("Sex"), sexes.get(r.sex, r.sex)),
                (_("Diagnosis"), r.diagnosis),
                (_("Stage"), r.stage + (f" · {r.tnm}" if r.tnm else "")),
                (_("Sites of metastasis"), r.metastasis_sites or "–"),
                ("ECOG", str(r.ecog)),
                (_("Prior treatment lines"), str(r.prior_lines)),
                (_("Informed consent"), str(r.consent_date)),
            ]
        ),
    )
    # The course and its template
    pairs = [
        (
            _("Course"),
            f"{c.code} · {COURSE_STATUS_LABELS.get(c.status, c.status)}"
            + (f" – {c.status_reason}" if c.status_reason else ""),
        ),
        (_("Template"), f"{localised(t, 'title')} ({t.code} v{t.version})"),
        (_("Route"), localised(t, "route")),
        (_("Doses"), _("days %(days)s, %(ml)s mL each", days=", ".join(str(d) for d in t.days), ml=t.volume_ml)),
        (_("Day 1"), str(c.day1)),
        (_("Same-donor preference"), _yes_no(c.same_donor)),
        (
            _("Observations"),
            _(
                "Observations (temperature, diarrhoea, abdominal pain, nausea/vomiting) at %(m)s min.",
                m=", ".join(str(m) for m in t.observation_minutes),
            ),
        ),
    ]
    for p in t.co_therapy:
        pairs.append(
            (
                _("Co-therapy plan"),
                _(
                    "%(drug)s %(dose)s %(route)s on day %(day)s, then every %(a)s-%(b)s days",
                    drug=p.drug,
                    dose=p.dose,
                    route=p.route,
                    day=p.on_day,
                    a=p.repeat_min_days,
                    b=p.repeat_max_days,
                ),
            )
        )
    story += doc.section(_("Course"), doc.facts(pairs))
    # Planned against actual; each postponement is its own full-width row under its dose (rows may split pages).
    header = [
        _("Dose"),
        _("Planned"),
        _("Scheduled"),
        _("Given at"),
        _("Volume"),
        _("Operator"),
        _("Dose unit"),
        _("Lot"),
        _("Donor"),
        _("Status"),
    ]
    rows, spans = [], []
    for row in data["rows"]:
        d = row["dose"]
        scheduled = str(d.scheduled_date)
        if d.scheduled_date != d.planned_date:
            scheduled += " " + _("+%(n)s d", n=(d.scheduled_date - d.planned_date).days)
        given = _when(d.given_at)
        if row["late_days"]:
            given += "\n(" + _("%(n)s d after plan", n=row["late_days"]) + ")"
        rows.append(
            [
                _("Day %(n)s", n=d.day),
                str(d.planned_date),
                scheduled,
                given,
                f"{d.volume_ml} mL" if d.volume_ml is not None else "",
                row["operator"],
                row["unit"].code if row["unit"] else _("none reserved"),
                row["lot"],
                row["donor"],
                str(ADMIN_STATUS_LABELS.get(d.status, d.status)),
            ]
        )
        for p in row["postponements"]:
            spans.append(len(rows) + 1)  # + the header row
            rows.append(
                [
                    doc.para(
                        _(
                            "Postponed %(from)s → %(to)s: %(code)s – %(reason)s",
                            **{
                                "from": p.from_date,
                                "to": p.to_date,
                                "code": POSTPONE_LABELS.get(p.reason_code, p.reason_code),
                                "reason": p.reason,
                            },
                        ),
                        st["cell"],
                    )
                ]
                + [""] * (len(header) - 1)
            )
    grid = doc.table(header, rows, [12, 17, 18, 22, 14, 21, 28, 24, 12, 12], empty=_("No doses planned."))
    grid.setStyle(
        [("SPAN", (0, i), (-1, i)) for i in spans]
        + [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#fff4e5")) for i in spans]
    )
    story += doc.section(_("Planned and actual days"), grid)
    # Observations after each dose
    rows = []
    for row in data["rows"]:
        for o in row["observations"]:
            fever = o.temperature_c is not None and o.temperature_c >= FEVER_C
            temp = (
                ""
                if o.temperature_c is None
                else (_("%(t)s fever", t=o.temperature_c) if fever else f"{o.temperature_c}")
            )
            rows.append(
                [
                    _("Day %(n)s", n=row["dose"].day),
                    str(o.minutes_after),
                    _when(o.observed_at),
                    doc.para(temp, red if fever else st["cell"]),
                    _yes_no(o.diarrhoea),
                    _yes_no(o.abdominal_pain),
                    _yes_no(o.nausea_vomiting),
                    o.note or "",
                ]
            )
    story += doc.section(
        _("Observations after the infusion"),
        doc.table(
            [
                _("Dose"),
                _("Minutes after"),
                _("Observed at"),
                _("Temperature (°C)"),
                _("Diarrhoea"),
                _("Abdominal pain"),
                _("Nausea/vomiting"),
                _("Note"),
            ],
            rows,
            [12, 14, 18, 20, 15, 16, 23, 62],
            empty=_("None recorded."),
        ),
    )
    # Co-therapy
    rows = [
        [str(ct.given_on), ct.drug, ct.dose, ct.route, str(ct.cycle or ""), ct.note or ""] for ct in data["co_therapy"]
    ]
    story += doc.section(
        _("Co-therapy given"),
        doc.table(
            [_("Date"), _("Drug"), _("Dose amount"), _("Route"), _("Cycle"), _("Note")],
            rows,
            [20, 35, 20, 20, 12, 73],
            empty=_("None recorded."),
        ),
    )
    # Adverse events; a description is its own full-width row under its event
    rows, spans = [], []
    for ae in data["aes"]:
        grade = f"{ae.grade} · {GRADE_MEANING.get(ae.grade, '')}"
        if data["grade_texts"].get(ae.id):
            grade += f"\n{data['grade_texts'][ae.id]}"
        serious = (
            (
                "; ".join(str(SERIOUSNESS_LABELS.get(x, x)) for x in ae.criteria)
                + " · "
                + (_("expected") if ae.expected else _("unexpected"))
            )
            if ae.serious
            else _("not serious")
        )
        rows.append(
            [
                ae.code,
                f"{ae.term}\n{ae.term_code} · CTCAE v{ae.ctcae_version}",
                grade,
                f"{ae.onset_date}\n" + (str(ae.resolved_date) if ae.resolved_date else _("ongoing")),
                doc.para(serious, red if ae.serious else st["cell"]),
                _("FMT: %(fmt)s", fmt=ATTRIBUTION_LABELS.get(ae.attribution_fmt, ae.attribution_fmt))
                + "\n"
                + _(
                    "co-therapy: %(ct)s", ct=ATTRIBUTION_LABELS.get(ae.attribution_cotherapy, ae.attribution_cotherapy)
                ),
                f"{ACTION_LABELS.get(ae.action_taken, ae.action_taken)} /\n{OUTCOME_LABELS.get(ae.outcome, ae.outcome)}",
                data["followed"].get(ae.id, ""),
            ]
        )
        if ae.description:
            spans.append(len(rows) + 1)
            rows.append([doc.para(_("Description: %(text)s", text=ae.description), st["cell"])] + [""] * 7)
    grid = doc.table(
        [
            _("Event"),
            _("CTCAE term"),
            _("Grade"),
            _("Onset / resolved"),
            _("Seriousness"),
            _("Related to FMT / co-therapy"),
            _("Action taken / outcome"),
            _("Followed the dose"),
        ],
        rows,
        [14, 23, 28, 22, 22, 24, 27, 20],
        empty=_("No adverse events recorded."),
    )
    grid.setStyle([("SPAN", (0, i), (-1, i)) for i in spans])
    story += doc.section(_("Adverse events of the recipient"), grid)
    # SAE reporting: one row per report owed (or not required)
    rows = []
    for ae in data["aes"]:
        if not ae.serious:
            continue
        for label, due, sent in (
            (_("Ethics committee"), ae.ethics_due_at, ae.ethics_reported_at),
            (_("Regulatory authority (expedited)"), ae.regulatory_due_at, ae.regulatory_reported_at),
        ):
            if due is None:
                rows.append([ae.code, label, _("not required (expected or not related)"), "", ""])
                continue
            if sent:
                state = doc.para(_("sent"), st["cell"])
            elif _aware(due) < _aware(generated_at):
                state = doc.para(_("OVERDUE"), red)
            else:
                state = doc.para(_("due"), st["cell"])
            rows.append([ae.code, label, format_dt(due), format_dt(sent) if sent else "", state])
    story += doc.section(
        _("SAE reports"),
        doc.table(
            [_("Event"), _("Report"), _("Due"), _("Sent"), _("State")],
            rows,
            [18, 52, 45, 40, 25],
            empty=_("No serious adverse events."),
        ),
    )
    meta = doc.ReportMeta(
        title=_("Recipient course report"),
        record=c.code,
        subtitle=_("Recipient %(code)s · %(course)s", code=r.code, course=localised(t, "title")),
        qr_payload=f"LIMS:CO:{c.code}",
        doc_version=doc_version(data),
        generated_by=_("Generated by %(name)s", name=generated_by),
        generated_at=format_dt(generated_at, seconds=True),
        footer_note=_("Printed copy of an electronic record; the electronic record is authoritative."),
        page_label=_("Page %(x)s of %(y)s"),
        watermark=None,
    )
    return doc.render(meta, story)
