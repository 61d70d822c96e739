"""The donor screening report: one screening's panel, its verifications and the signed eligibility decision.

``collect`` reads everything in one read-only pass; ``build`` lays it out.
The donor appears only by code: the identity is never read. The document
version names the form revision, the screening, its record version and the
newest audit row of the screening, its results and its decision, so two
printouts of the same state carry the same version and any later change
gives a new one. Prints of the report itself are not counted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_babel import gettext as _
from reportlab.lib import colors
from sqlalchemy import func
from sqlmodel import select

from ..audit.models import AuditEntry
from ..audit.signatures import current_signature
from ..donors import screening as screening_ops
from ..donors.explain import VALUE_LABELS, outcome_label, reason_text
from ..donors.forms import SEX_CHOICES
from ..donors.models import Donor, ScreeningProtocol
from ..donors.protocols import display_name, item_names, item_spec, items_of
from ..donors.rules import age_on, bmi, item_fails, valid_through, value_problem
from ..donors.screening_models import EligibilityDecision, Screening
from ..donors.screening_views import KIND_LABELS, normal_range
from ..timefmt import format_dt, lab_today
from . import document as doc
from .signatures import sig_table as _sig_table
from .signatures import signature_rows

FORM = "FMT-DS rev 1"
ENTITIES = ("screening", "screening_result", "eligibility_decision")
NOT_COUNTED = ("report", "print")  # printing the report or a tube label changes nothing in the record


def _status_label(status: str) -> str:
    return {"open": _("open"), "decided": _("decided"), "cancelled": _("cancelled")}.get(status, status)


def _value_text(item, value: str) -> str:
    """A result as read: "negative" in the reader's language, a number with its unit."""
    label = VALUE_LABELS.get(str(value).lower())
    if label:
        return label()
    return f"{value} {item.unit}".strip()


def last_audit_id(session, sc: Screening, result_ids: list[str], decision_ids: list[str]) -> int:
    """The newest audit row of the screening, its results and its decision (prints left out)."""
    clause = (AuditEntry.entity == "screening") & (AuditEntry.record_id == str(sc.id))
    if result_ids:
        clause = clause | ((AuditEntry.entity == "screening_result") & AuditEntry.record_id.in_(result_ids))
    if decision_ids:
        clause = clause | ((AuditEntry.entity == "eligibility_decision") & AuditEntry.record_id.in_(decision_ids))
    return session.exec(select(func.max(AuditEntry.id)).where(clause, AuditEntry.action.not_in(NOT_COUNTED))).one() or 0


def _verified_by(session, result) -> tuple[str, bool]:
    """The latest "verified" signature of a result (name over date-time, and why it is invalid), and whether it is valid."""
    view = current_signature(session, result, "verified")
    if view is None:
        return _("not verified"), False
    sig = view.signature
    line = f"{sig.user_name}\n{format_dt(sig.signed_at, seconds=True)}"
    return (line, True) if view.valid else (line + "\n" + _("INVALID: %(why)s", why=view.problem), False)


def group_signatures(rows: list[list[str]], names: dict[str, str]) -> list[list[str]]:
    """One row per signing event (signer, role, meaning, time, state, comment) instead of one per result.

    A panel is verified in one act: 49 identical lines would say nothing more. The record column
    names the item when the event covers one result (e.g. a signature made invalid by a
    correction, whose state is its own), otherwise how many results it covers.
    """
    groups: dict[tuple, list[str]] = {}
    for row in rows:
        groups.setdefault(tuple(row[1:]), []).append(row[0])
    return [
        [names.get(ids[0], ids[0]) if len(ids) == 1 else _("%(n)s results", n=len(ids)), *key]
        for key, ids in groups.items()
    ]


def collect(session, screening: Screening) -> dict:
    """Everything the report prints, read once."""
    sc = screening
    donor = session.get(Donor, sc.donor_id)
    protocol = session.get(ScreeningProtocol, sc.protocol_id)
    items = items_of(session, protocol)
    results = screening_ops.results_of(session, sc)
    by_item = {r.item_id: r for r in results}
    names = {r.audit_record_id: display_name(i) for i in items for r in [by_item.get(i.id)] if r is not None}
    rows = []
    for item in items:
        r = by_item.get(item.id)
        spec = item_spec(item)
        verified, ok = _verified_by(session, r) if r else ("", False)
        rows.append(
            {
                "kind": item.kind,
                "name": display_name(item),
                "code": item.code,
                "reference": normal_range(item) if item.normal_min is not None or item.normal_max is not None else "",
                "value": _value_text(item, r.value) if r else None,
                "flag": bool(r) and not value_problem(spec, r.value) and item_fails(spec, r.value) is not False,
                "sample_date": r.sample_date if r else None,
                "valid_through": valid_through(r.sample_date, item.validity_days) if r else None,
                "verified_by": verified,
                "verified_ok": ok,
            }
        )
    decision = session.exec(
        select(EligibilityDecision)
        .where(EligibilityDecision.screening_id == sc.id)
        .order_by(EligibilityDecision.id.desc())
    ).first()
    approved = current_signature(session, decision, "approved") if decision else None
    signed = bool(approved and approved.valid)
    names_zh = item_names(session)
    result_sigs = group_signatures(signature_rows(session, results), names)
    decision_sigs = signature_rows(session, [decision]) if decision else []
    for row in decision_sigs:
        row[0] = _("Decision #%(id)s", id=decision.id)
    evaluation = None
    if decision is None and sc.status == "open":  # what the rules say today; not a decision
        evaluation = screening_ops.evaluate(session, sc, lab_today())
    return {
        "screening": sc,
        "donor": donor,
        "protocol": protocol,
        "rows": rows,
        "sample_dates": sorted({r.sample_date for r in results}),
        "methods": sorted({r.method for r in results if r.method}),
        "result_signatures": result_sigs,
        "decision": decision,
        "signed": signed,
        "decision_reasons": [reason_text(r, names_zh) for r in screening_ops.stored_reasons(decision)]
        if decision
        else [],
        "decision_signatures": decision_sigs,
        "evaluation": evaluation,
        "evaluation_reasons": [reason_text(r, names_zh) for r in evaluation.reasons if r.effect != "missing"]
        if evaluation
        else [],
        "evaluation_missing": sum(1 for r in evaluation.reasons if r.effect == "missing") if evaluation else 0,
        "last_audit_id": last_audit_id(
            session, sc, [r.audit_record_id for r in results], [decision.audit_record_id] if decision else []
        ),
    }


def doc_version(data: dict) -> str:
    sc = data["screening"]
    return _(
        "%(form)s · screening #%(id)s · record version %(v)s · audit trail to #%(row)s",
        form=FORM,
        id=sc.id,
        v=sc.version,
        row=data["last_audit_id"],
    )


def build(data: dict, generated_by: str, generated_at: datetime) -> bytes:
    st = doc.styles()
    red = doc.styles()["alert_cell"]
    sc, donor, protocol, decision = data["screening"], data["donor"], data["protocol"], data["decision"]
    protocol_label = f"{protocol.code} v{protocol.protocol_version}"
    story = []
    if not data["signed"]:
        story.append(
            doc.para(
                _(
                    "NO SIGNED DECISION: this screening has no approved eligibility decision with a valid "
                    "signature. It does not make the donor eligible."
                ),
                st["alert"],
            )
        )
    # Donor (by code only) and the screening
    as_of = decision.as_of if decision else sc.started_on
    sexes = dict(SEX_CHOICES)
    story += doc.section(
        _("Donor"),
        doc.facts(
            [
                (_("Donor"), donor.code),
                (_("Sex"), sexes.get(donor.sex, donor.sex)),
                (_("Age on %(day)s", day=as_of), str(age_on(donor.date_of_birth, as_of))),
                (
                    _("Height / weight"),
                    _(
                        "%(h)s cm / %(w)s kg, measured on %(d)s (BMI %(bmi)s)",
                        h=donor.height_cm,
                        w=donor.weight_kg,
                        d=donor.measured_on,
                        bmi=bmi(donor.height_cm, donor.weight_kg).quantize(Decimal("0.01")),
                    ),
                ),
            ]
        ),
    )
    dates = data["sample_dates"]
    story += doc.section(
        _("Screening"),
        doc.facts(
            [
                (_("Screening"), f"#{sc.id} · {_status_label(sc.status)}"),
                (_("Protocol"), f"{protocol_label} – {protocol.title}"),
                (_("Started on"), str(sc.started_on)),
                (_("Sample dates"), ", ".join(str(d) for d in dates) if dates else _("none")),
                (_("Method / laboratory"), ", ".join(data["methods"]) or "–"),
            ]
        ),
    )
    # Every item of the protocol, grouped by kind as on the screening page; one table, so rows split across pages.
    header = [_("Item"), _("Result"), _("Reference"), _("Sample date"), _("Valid through"), _("Verified by")]
    table_rows, groups = [], []
    for kind, label in KIND_LABELS.items():
        rows = [r for r in data["rows"] if r["kind"] == kind]
        if not rows:
            continue
        groups.append(len(table_rows) + 1)  # + the header row
        table_rows.append([doc.para(str(label), st["small"])] + [""] * (len(header) - 1))
        for r in rows:
            if r["value"] is None:
                table_rows.append([r["name"], _("no result"), r["reference"], "", doc.para(_("missing"), red), ""])
                continue
            table_rows.append(
                [
                    r["name"],
                    doc.para(r["value"], red if r["flag"] else st["cell"]),
                    r["reference"],
                    str(r["sample_date"]),
                    str(r["valid_through"]),
                    doc.para(r["verified_by"], st["cell"] if r["verified_ok"] else red),
                ]
            )
    grid = doc.table(header, table_rows, [56, 22, 22, 19, 20, 41], empty=_("No items."))
    grid.setStyle(
        [("SPAN", (0, i), (-1, i)) for i in groups]
        + [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#dde4ec")) for i in groups]
    )
    story += doc.section(_("Results"), grid)
    story += _sig_table(data["result_signatures"], _("Result verification signatures"))
    # The decision
    if decision:
        pairs = [
            (_("Outcome"), outcome_label(decision.outcome)),
            (_("Until"), str(decision.until) if decision.until else "–"),
            (_("Protocol"), decision.protocol_label),
            (_("Decided as of"), str(decision.as_of)),
        ]
        story += doc.section(_("Eligibility decision"), doc.facts(pairs))
        if data["decision_reasons"]:
            # One row per reason: the list may break across pages, the heading stays with the outcome.
            story.append(
                doc.facts([(_("Reasons") if i == 0 else "", text) for i, text in enumerate(data["decision_reasons"])])
            )
        story += _sig_table(data["decision_signatures"], _("Decision signature (approved)"), empty=_("Not signed."))
    else:
        # Small enough to keep with its heading: the statement, what the rules say today, and why.
        pairs = [(_("Decision"), _("No eligibility decision has been approved for this screening."))]
        ev = data["evaluation"]
        if ev is not None:
            pairs.append(
                (
                    _("Evaluation as of %(day)s (not a decision)", day=ev.checked_on),
                    _("%(outcome)s until %(until)s", outcome=outcome_label(ev.outcome), until=ev.until)
                    if ev.until
                    else outcome_label(ev.outcome),
                )
            )
            lines = list(data["evaluation_reasons"])
            if data["evaluation_missing"]:
                lines.append(_("%(n)s items have no valid, verified result yet", n=data["evaluation_missing"]))
            pairs += [(_("Reasons") if i == 0 else "", text) for i, text in enumerate(lines)]
        story += doc.section(_("Eligibility decision"), doc.facts(pairs))
    meta = doc.ReportMeta(
        title=_("Donor screening report"),
        record=donor.code,
        subtitle=_("Screening #%(id)s · protocol %(p)s", id=sc.id, p=protocol_label),
        qr_payload=f"LIMS:DO:{donor.code}",
        doc_version=doc_version(data),
        generated_by=_("Generated by %(name)s", name=generated_by),
        generated_at=format_dt(generated_at, seconds=True),
        footer_note=_("Printed copy of an electronic record; the electronic record is authoritative."),
        page_label=_("Page %(x)s of %(y)s"),
        watermark=None if data["signed"] else _("NO SIGNED DECISION"),
    )
    return doc.render(meta, story)
