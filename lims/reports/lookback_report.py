"""The lookback report: one case, the rule that set its scope, everything it reaches and what QA did about it.

``collect`` reads everything in one read-only pass; ``build`` lays it out.
The donor appears only by code (the identity is never read) and every
recipient only by study code. The document version names the form revision,
the case, its record version and the newest audit row of the case and its
actions, holds, notifications and re-tests (lookback records whose id is the
case code or starts with it), so two printouts of the same state carry the same
version and any later change gives a new one. Prints of the report (and of its
CSV export) are not counted.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask_babel import gettext as _
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Spacer
from sqlalchemy import func
from sqlmodel import select

from ..audit.models import AuditEntry
from ..donors.models import Donor
from ..lookback import actions, cases, rules
from ..lookback.models import LookbackCase
from ..manufacturing.explain import BATCH_STATUS_LABELS, UNIT_STATUS_LABELS
from ..manufacturing.models import Batch
from ..timefmt import format_dt
from . import document as doc
from .signatures import sig_table, signature_rows

FORM = "FMT-LB rev 1"
NOT_COUNTED = ("report", "print")  # printing the report or exporting the CSV changes nothing in the record


def last_audit_id(session, case: LookbackCase) -> int:
    """The newest audit row of the case and its actions, holds, notifications and re-tests; prints left out."""
    return (
        session.exec(
            select(func.max(AuditEntry.id)).where(cases.audit_clause(case), AuditEntry.action.not_in(NOT_COUNTED))
        ).one()
        or 0
    )


def collect(session, case: LookbackCase) -> dict:
    """Everything the report prints, read once."""
    entries = cases.scope_of(session, case)
    lines = cases.reach(session, case, entries)
    donor = session.get(Donor, case.donor_id)
    batch = session.get(Batch, case.batch_id) if case.batch_id else None
    return {
        "case": case,
        "donor_code": donor.code,
        "batch_lot": batch.lot if batch else None,
        "entries": entries,
        "lines": lines,
        "doses": dict(cases.recipients_of(lines)),
        "reached": actions.recipients_reached(session, case, lines),
        "to_inform": set(actions.recipients_to_inform(session, case, lines)),
        "informed": actions.informed(session, case),
        "notifications": actions.notifications_of(session, case),
        "retests": actions.retests_of(session, case),
        "actions": [
            (a, json.loads(a.summary), signature_rows(session, [a])) for a in actions.actions_of(session, case)
        ],
        "timeline": _timeline(session, case),
        "target_days": cases.target_days(),
        "last_audit_id": last_audit_id(session, case),
    }


def _timeline(session, case: LookbackCase) -> list[tuple[str, str]]:
    """The case timeline as printed: (when, event)."""
    return [(when, text) for _at, when, text in actions.timeline(session, case)]


def doc_version(data: dict) -> str:
    c = data["case"]
    return _(
        "%(form)s · case %(code)s · record version %(v)s · audit trail to #%(row)s",
        form=FORM,
        code=c.code,
        v=c.version,
        row=data["last_audit_id"],
    )


def _when(dt: datetime | None) -> str:
    """Date over time and zone: a narrow column breaks where it should."""
    return format_dt(dt).replace(" ", "\n", 1) if dt else ""


def _codes(items) -> str:
    return ", ".join(items) or "–"


def _case_section(data: dict, generated_at: datetime) -> list:
    st = doc.styles()
    c = data["case"]
    trigger = _("positive or excluding result") if c.trigger == "result" else _("opened by hand")
    hours = int(actions.elapsed(c, generated_at).total_seconds() // 3600)
    late = c.status == "open" and rules.overdue(c.opened_at, generated_at, data["target_days"])
    if c.status == "open":
        status = _("open")
        timing = _(
            "open for %(h)s h when this report was generated; target: record review within %(d)s calendar days",
            h=hours,
            d=data["target_days"],
        )
    else:
        status = _("closed: %(outcome)s", outcome=actions.outcome_label(c.outcome))
        timing = _(
            "closed %(t)s, %(h)s h after it opened (target %(d)s calendar days)",
            t=format_dt(c.closed_at),
            h=hours,
            d=data["target_days"],
        )
    pairs = [
        (_("Lookback case"), c.code),
        (_("Donor"), data["donor_code"]),
        (_("Trigger"), f"{trigger}: {c.trigger_text}"),
        (_("Finding dated"), str(c.finding_date)),
        (_("Opened"), format_dt(c.opened_at)),
        (_("Status"), status),
        (_("Closed at"), format_dt(c.closed_at) if c.closed_at else "–"),
        (_("Time to record review"), timing),
        (_("Conclusion"), c.conclusion or "–"),
    ]
    story = doc.section(_("Case"), doc.facts(pairs))
    if late:
        story.append(
            doc.para(
                _(
                    "OVERDUE: the record review has taken longer than the target of %(d)s calendar days.",
                    d=data["target_days"],
                ),
                st["alert"],
            )
        )
    return story


def _scope_section(data: dict) -> list:
    c = data["case"]
    pairs = [(_("Scope"), cases.scope_sentence(c, sum(1 for e in data["entries"] if e.addition)))]
    if data["batch_lot"]:
        pairs.append((_("Batch"), data["batch_lot"]))
    pairs += [
        (
            _("Window"),
            _(
                "%(n)s days before the finding (from %(d)s)",
                n=c.window_days,
                d=c.finding_date - timedelta(days=c.window_days),
            ),
        ),
        (_("Last fully negative screening"), str(c.last_negative) if c.last_negative else _("none before the finding")),
        (
            _("Scope start"),
            _("only the batch named when the case was opened")
            if c.batch_id
            else str(c.scope_start)
            if c.scope_start
            else _("every donation of the donor"),
        ),
    ]
    story = doc.section(_("Scope rule"), doc.facts(pairs))
    rows = []
    for e in data["entries"]:
        b = e.batch
        rows.append(
            [
                e.donation.code,
                str(e.donation.collection_day),
                f"{b.lot}\n{BATCH_STATUS_LABELS.get(b.status, b.status)}" if b else _("no batch"),
                _("in scope") if e.in_scope else _("excluded"),
                cases.scope_reason(e),
            ]
        )
    story += [
        Spacer(1, 4),
        doc.para(_("Every donation of the donor: in scope or excluded"), doc.styles()["small"]),
        doc.table(
            [_("Donation"), _("Collection day"), _("Batch"), _("Scope"), _("Why")],
            rows,
            [24, 18, 30, 16, 92],
            empty=_("The donor has no donation."),
        ),
    ]
    return story


def _reach_section(data: dict) -> list:
    """One row per dose unit; the donation, its retained sample and its batch are printed on its first row."""
    rows = []
    for line in data["lines"]:
        dn, b = line.donation, line.batch
        if line.disposed:
            retained = _("disposed of on %(d)s", d=line.disposed.disposed_on)
        else:
            retained = f"{dn.retained_ml} mL · {dn.retained_location} · " + _("kept until %(d)s", d=dn.retained_until)
        batch = f"{b.lot}\n{BATCH_STATUS_LABELS.get(b.status, b.status)}" if b else _("no batch")
        head = [dn.code, str(dn.collection_day), retained, batch]
        if not line.units:
            rows.append(head + ["", "", "", ""])
        for i, u in enumerate(line.units):
            rows.append(
                (head if i == 0 else ["", "", "", ""])
                + [
                    u.unit.code,
                    str(UNIT_STATUS_LABELS.get(u.unit.status, u.unit.status)),
                    u.location,
                    u.recipient or "",
                ]
            )
    grid = doc.table(
        [
            _("Donation"),
            _("Collection day"),
            _("Retained sample (for re-testing)"),
            _("Batch"),
            _("Dose unit"),
            _("Unit status"),
            _("Location"),
            _("Recipient"),
        ],
        rows,
        [22.5, 15.5, 23, 24, 27.5, 18.5, 35.5, 13.5],
        empty=_("No donation in scope."),
    )
    return doc.section(_("Donations, retained samples, batches and units in scope"), grid)


def _recipients_section(data: dict) -> list:
    st = doc.styles()
    red = st["alert_cell"]
    rows = []
    for code in data["reached"]:
        doses = []
        for u in data["doses"].get(code, []):
            a = u.administration
            state = (
                _("given %(t)s", t=format_dt(a.given_at))
                if a.given_at
                else _("planned for %(d)s, not given", d=a.scheduled_date)
            )
            doses.append(f"{u.unit.code} · {a.code} · {state}")
        if code in data["informed"]:
            state = doc.para(_("informed"), st["cell"])
        elif code in data["to_inform"]:
            state = doc.para(_("to inform"), red)
        else:
            state = doc.para(_("not required (no dose given)"), st["cell"])
        rows.append([code, "\n".join(doses) or _("reservation removed by the hold"), state])
    story = doc.section(
        _("Recipients and notification status"),
        doc.table(
            [_("Recipient"), _("Doses from units in scope"), _("Notification")],
            rows,
            [20, 125, 35],
            empty=_("No recipient received or holds a unit in scope."),
        ),
    )
    rows = [
        [
            n.recipient_code,
            n.informed_person,
            _when(n.informed_at),
            actions.method_label(n.method),
            doc.para(_("informed"), st["cell"]) if n.reached else doc.para(_("attempt, not reached"), red),
            n.note or "",
        ]
        for n in data["notifications"]
    ]
    story += [
        Spacer(1, 4),
        doc.para(_("Notifications"), st["small"]),
        doc.table(
            [_("Recipient"), _("Who"), _("When"), _("How"), _("Reached?"), _("Note")],
            rows,
            [18, 40, 24, 18, 22, 58],
            empty=_("No notification recorded."),
        ),
    ]
    return story


def _retests_section(data: dict) -> list:
    st = doc.styles()
    rows = [
        [
            r.donation_code,
            r.test,
            doc.para(actions.retest_label(r.result), st["alert_cell"] if r.result == "positive" else st["cell"]),
            str(r.tested_on),
            r.laboratory,
            r.note or "",
        ]
        for r in data["retests"]
    ]
    return doc.section(
        _("Re-tests of retained samples"),
        doc.table(
            [_("Donation"), _("Test"), _("Result"), _("Tested on"), _("Laboratory"), _("Note")],
            rows,
            [25, 35, 18, 18, 34, 50],
            empty=_("No re-test recorded."),
        ),
    )


def _actions_section(data: dict) -> list:
    st = doc.styles()
    story = doc.section(_("Signed actions"))
    if not data["actions"]:
        return story + [doc.para(_("None recorded."), st["base"])]
    for a, s, sigs in data["actions"]:
        title = (
            _("Hold")
            if a.kind == "hold"
            else _("Scope widened")
            if a.kind == "widen"
            else _("Closed as %(outcome)s", outcome=actions.outcome_label(a.outcome))
        )
        if a.kind == "widen":
            pairs = [
                (_("Donations added"), _codes(s.get("donations", []))),
                (_("Batches added"), _codes(s.get("batches", []))),
            ]
        elif a.kind == "hold":
            pairs = [
                (_("Units recalled"), _codes(s.get("units", []))),
                (_("Batches on hold"), _codes(s.get("batches_on_hold", []))),
                (_("Batches held before release"), _codes(s.get("batches_held", []))),
                (_("Donations held"), _codes(s.get("donations", []))),
                (_("Doses whose reservation was removed"), _codes(s.get("doses_freed", []))),
            ]
        else:
            pairs = [
                (_("Batches recalled"), _codes(s.get("recalled", []))),
                (_("Batches released again"), _codes(s.get("released", []))),
                (_("Units back in stock"), _codes(s.get("units_available", []))),
                (_("Units expired meanwhile"), _codes(s.get("units_expired", []))),
                (_("Issued units kept recalled"), _codes(s.get("units_kept", []))),
            ]
        story += [
            CondPageBreak(30 * mm),
            Spacer(1, 6),
            doc.para(f"{a.audit_record_id} · {title} · {format_dt(a.acted_at)} · {a.text}", st["base"]),
            doc.facts(pairs),
            Spacer(1, 2),
            *sig_table(sigs),
        ]
    return story


def _timeline_section(data: dict) -> list:
    rows = [[at, text] for at, text in data["timeline"]]
    return doc.section(_("Timeline"), doc.table([_("Time"), _("Event")], rows, [32, 148], empty=_("None recorded.")))


def build(data: dict, generated_by: str, generated_at: datetime) -> bytes:
    c = data["case"]
    story = _case_section(data, generated_at)
    story += _scope_section(data)
    story += _reach_section(data)
    story += _recipients_section(data)
    story += _retests_section(data)
    story += _actions_section(data)
    story += _timeline_section(data)
    status = _("open") if c.status == "open" else _("closed: %(outcome)s", outcome=actions.outcome_label(c.outcome))
    meta = doc.ReportMeta(
        title=_("Lookback report"),
        record=c.code,
        subtitle=_("Donor %(code)s · %(status)s", code=data["donor_code"], status=status),
        qr_payload=f"LIMS:LB:{c.code}",
        doc_version=doc_version(data),
        generated_by=_("Generated by %(name)s", name=generated_by),
        generated_at=format_dt(generated_at, seconds=True),
        footer_note=_("Printed copy of an electronic record; the electronic record is authoritative."),
        page_label=_("Page %(x)s of %(y)s"),
        watermark=_("OPEN CASE") if c.status == "open" else None,
    )
    return doc.render(meta, story)
