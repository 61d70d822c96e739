"""The batch report QA prints and files: the whole batch record, from the donor's eligibility to the patients.

``collect`` reads everything in one read-only pass; ``build`` lays it out.
The document version names the form revision, the batch's record version and
the newest audit row covered, so two printouts of the same state carry the
same version and any later change gives a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.display import display_rows
from ..clock import utcnow
from ..donors import screening as screening_ops
from ..donors.explain import outcome_label, reason_text
from ..donors.models import Donor, ProtocolItem
from ..donors.protocols import display_name, item_names
from ..donors.rules import valid_through
from ..donors.screening_models import EligibilityDecision, ScreeningResult
from ..equipment.models import Equipment
from ..manufacturing import batches, explain, qc, release, storage
from ..manufacturing.models import Batch, BatchDisposition, BatchReview, Donation, ManufacturingSpec
from ..manufacturing.spec import qc_items, qc_name
from ..timefmt import format_dt
from . import document as doc
from .signatures import sig_table as _sig_table
from .signatures import signature_rows
from .signatures import who as _who

FORM = "FMT-BR rev 1"


def decision_in_force(session, donor_id: int, day) -> EligibilityDecision | None:
    """The latest signed decision taken on or before the donation day."""
    from ..audit.signatures import current_signature

    rows = session.exec(
        select(EligibilityDecision)
        .where(EligibilityDecision.donor_id == donor_id, EligibilityDecision.as_of <= day)
        .order_by(EligibilityDecision.as_of.desc(), EligibilityDecision.id.desc())
    ).all()
    for d in rows:
        sig = current_signature(session, d, "approved")
        if sig and sig.valid:
            return d
    return None


def screening_rows(session, screening_id: int) -> list[list[str]]:
    results = session.exec(
        select(ScreeningResult, ProtocolItem)
        .join(ProtocolItem, ProtocolItem.id == ScreeningResult.item_id)
        .where(ScreeningResult.screening_id == screening_id)
        .order_by(ProtocolItem.position)
    ).all()
    return [
        [display_name(item), r.value, str(r.sample_date), str(valid_through(r.sample_date, item.validity_days))]
        for r, item in results
    ]


def collect(session, batch: Batch) -> dict:
    """Everything the report prints, read once."""
    from ..clinical import adverse_events
    from ..clinical.course_models import Administration
    from ..clinical.models import Recipient

    donation = session.get(Donation, batch.donation_id)
    donor = session.get(Donor, batch.donor_id)
    spec = session.get(ManufacturingSpec, batch.spec_id)
    limits = batches.limits_for(session, batch)
    steps = batches.steps_of(session, batch)
    results = qc.results_of(session, batch)
    items = {i.id: i for i in qc_items(session, batch.spec_id)}
    deviations = qc.deviations_of(session, batch)
    units = storage.units_of(session, batch)
    reviews = list(
        session.exec(select(BatchReview).where(BatchReview.batch_id == batch.id).order_by(BatchReview.id)).all()
    )
    dispositions = list(
        session.exec(
            select(BatchDisposition).where(BatchDisposition.batch_id == batch.id).order_by(BatchDisposition.id)
        ).all()
    )
    decision = decision_in_force(session, donor.id, donation.collection_day)
    clearing = release.clearance(session, batch)
    clearing_decision = session.get(EligibilityDecision, clearing.decision_id) if clearing else None
    admins = (
        {
            a.unit_id: a
            for a in session.exec(select(Administration).where(Administration.unit_id.in_([u.id for u in units]))).all()
        }
        if units
        else {}
    )
    recipients = (
        {
            r.id: r.code
            for r in session.exec(
                select(Recipient).where(Recipient.id.in_({a.recipient_id for a in admins.values()}))
            ).all()
        }
        if admins
        else {}
    )
    audit = release.audit_rows(session, batch, limit=5000)
    now = utcnow()
    names = item_names(session)
    return {
        "batch": batch,
        "donation": donation,
        "donor": donor,
        "spec": spec,
        "limits": limits,
        "device": session.get(Equipment, batch.device_id),
        "received_by": _who(session, donation.received_by_id),
        "decision": decision,
        "decision_reasons": [reason_text(r, names) for r in screening_ops.stored_reasons(decision)] if decision else [],
        "decision_results": screening_rows(session, decision.screening_id) if decision else [],
        "decision_signatures": signature_rows(session, [decision]) if decision else [],
        "clearing": clearing_decision,
        "steps": [(st, batches.params_of(st), _who(session, st.operator_id)) for st in steps],
        "step_signatures": signature_rows(session, steps),
        "qc": [(r, items.get(r.item_id)) for r in results],
        "qc_signatures": signature_rows(session, results),
        "deviations": deviations,
        "deviation_signatures": signature_rows(session, deviations),
        "dispositions": dispositions,
        "release_signatures": signature_rows(session, reviews + dispositions),
        "units": [
            (
                u,
                storage.path_text(session, u.box_id, u.position) if u.box_id else "",
                admins.get(u.id),
                recipients.get(admins[u.id].recipient_id) if u.id in admins else None,
            )
            for u in units
        ],
        "aes": adverse_events.listing(session, batch=batch, limit=10_000),
        # Printing is in the trail too, but a print must not give the same state a new document version.
        "audit": display_rows(session, audit),
        "status": status_at(session, batch, deviations, now),
        "last_audit_id": max((a.id for a in audit if a.action not in ("report", "print")), default=0),
    }


@dataclass(frozen=True)
class StatusAtPrint:
    """The batch as its page shows it at the moment of printing: the stored status is not the whole truth."""

    effective: str  # status code now (a hold or an expiry wins over the stored one)
    why: str | None  # why it differs from the stored status, as a sentence
    holding_cases: tuple  # lookback cases holding the batch
    open_deviations: tuple  # deviation codes still open
    blockers: tuple  # what still blocks release (the batch page's list), for QA in general


def status_at(session, batch: Batch, deviations, now: datetime) -> StatusAtPrint:
    """The same reads the batch page makes (``batch_state``, ``holding_cases``, ``blockers``), at print time."""
    from ..manufacturing.queries import batch_state

    code, why = batch_state(session, batch, now)
    open_for_release = batch.status in ("in_process", "awaiting_qc", "quarantine")  # as the batch page asks
    blockers = release.blockers(session, batch, None) if open_for_release else []
    return StatusAtPrint(
        code,
        why,
        tuple(release.holding_cases(session, "batch", batch.id)),
        tuple(d.code for d in deviations if d.status == "open"),
        tuple(blockers),
    )


def status_section(data: dict) -> list:
    """Effective status, holds, open deviations and release blockers, as the batch page lists them."""
    st = doc.styles()
    state, b = data["status"], data["batch"]
    label = explain.BATCH_STATUS_LABELS
    pairs = [
        (
            _("Effective status"),
            str(label.get(state.effective, state.effective))
            if state.effective == b.status
            else _(
                "%(now)s (stored as %(stored)s)",
                now=label.get(state.effective, state.effective),
                stored=label.get(b.status, b.status),
            ),
        )
    ]
    if state.why:
        pairs.append((_("Why"), state.why))
    pairs.append(
        (
            _("Lookback holds"),
            explain.text("lookback_hold", {"items": ", ".join(state.holding_cases)})
            if state.holding_cases
            else _("none"),
        )
    )
    pairs.append((_("Open deviations"), ", ".join(state.open_deviations) if state.open_deviations else _("none")))
    flowables = [doc.facts(pairs)]
    if state.blockers:
        flowables.append(doc.para(_("What still blocks release:"), st["base"]))
        flowables += [doc.para(f"• {text}", st["alert"]) for text in state.blockers]
    return doc.section(_("Status at print time"), *flowables)


def doc_version(data: dict) -> str:
    b = data["batch"]
    return _(
        "%(form)s · record version %(v)s · audit trail to #%(row)s", form=FORM, v=b.version, row=data["last_audit_id"]
    )


def build(data: dict, generated_by: str, generated_at: datetime) -> bytes:
    st = doc.styles()
    b, dn, donor, limits = data["batch"], data["donation"], data["donor"], data["limits"]
    released = b.status == "released"
    story = []
    if not released:
        story.append(
            doc.para(
                _(
                    "NOT RELEASED: status %(status)s. This batch must not be used for patients.",
                    status=explain.BATCH_STATUS_LABELS[b.status],
                ),
                st["alert"],
            )
        )
    story += doc.section(
        _("Batch"),
        doc.facts(
            [
                (_("Lot"), b.lot),
                (
                    _("Status"),
                    explain.BATCH_STATUS_LABELS[b.status] + (f" – {b.status_reason}" if b.status_reason else ""),
                ),
                (
                    _("Product"),
                    explain.PRODUCT_LABELS.get(b.storage, _("Washed microbiota suspension"))
                    if b.storage
                    else _("Washed microbiota suspension"),
                ),
                (_("Specification"), f"{data['spec'].code} v{data['spec'].spec_version} – {data['spec'].title}"),
                (_("Production day"), str(b.production_day)),
                (_("Purification device / run"), f"{data['device'].code} {data['device'].name} · {b.run_number}"),
                (_("Expiry"), str(b.expiry_date or "")),
            ]
        ),
    )
    story += status_section(data)
    # Donor and eligibility
    decision = data["decision"]
    pairs = [(_("Donor"), donor.code)]
    if decision:
        pairs += [
            (
                _("Eligibility decision in force on %(day)s", day=dn.collection_day),
                (
                    _("%(outcome)s until %(until)s", outcome=outcome_label(decision.outcome), until=decision.until)
                    if decision.until
                    else outcome_label(decision.outcome)
                )
                + " · "
                + _("%(protocol)s · as of %(day)s", protocol=decision.protocol_label, day=decision.as_of),
            ),
        ]
    else:
        pairs.append((_("Eligibility decision in force on %(day)s", day=dn.collection_day), _("none signed")))
    if data["clearing"]:
        pairs.append((_("Cleared by the screening decided on"), str(data["clearing"].as_of)))
    story += doc.section(_("Donor eligibility"), doc.facts(pairs))
    if data["decision_reasons"]:
        # Its own table, one row per reason: it may break across pages, the heading above stays with the decision.
        story.append(
            doc.facts([(_("Reasons") if i == 0 else "", text) for i, text in enumerate(data["decision_reasons"])])
        )
    story.append(
        doc.table(
            [_("Test"), _("Result"), _("Sample date"), _("Valid through")],
            data["decision_results"],
            [70, 45, 30, 30],
            empty=_("No results."),
        )
    )
    if data["decision_signatures"]:
        story += _sig_table(data["decision_signatures"])
    # Donation
    story += doc.section(
        _("Donation receipt"),
        doc.facts(
            [
                (_("Donation"), dn.code),
                (_("Collected / received"), f"{format_dt(dn.collected_at)} / {format_dt(dn.received_at)}"),
                (_("Temperature on receipt"), f"{dn.receipt_temp_c} °C"),
                (_("Mass"), f"{dn.mass_g} g"),
                (_("Bristol stool form"), str(dn.bristol)),
                (_("Appearance"), dn.appearance),
                (_("Received by"), data["received_by"]),
                (
                    _("Retained sample"),
                    _(
                        "%(ml)s mL · %(where)s · keep until %(day)s",
                        ml=dn.retained_ml,
                        where=dn.retained_location,
                        day=dn.retained_until,
                    ),
                ),
            ]
        ),
    )
    # Steps
    rows = [
        [
            str(s.position),
            explain.step_label(s.kind, s.seq),
            explain.params_text(s.kind, p),
            format_dt(s.started_at),
            format_dt(s.ended_at),
            who,
        ]
        for s, p, who in data["steps"]
    ]
    story += doc.section(
        _("Process steps"),
        doc.table(
            [_("#"), _("Step"), _("Parameters"), _("Started"), _("Ended"), _("Operator")],
            rows,
            [8, 32, 60, 30, 30, 28],
            empty=_("No steps recorded."),
        ),
    )
    if b.enrichment_minutes is not None:
        ok = b.enrichment_minutes <= limits.enrichment_limit_minutes
        story.append(
            doc.para(
                _(
                    "Enrichment and purification time: %(m)s min (limit %(limit)s min) – %(verdict)s",
                    m=b.enrichment_minutes,
                    limit=limits.enrichment_limit_minutes,
                    verdict=_("within the limit") if ok else _("OVER THE LIMIT"),
                ),
                st["base"] if ok else st["alert"],
            )
        )
    story += _sig_table(data["step_signatures"], _("Step verification signatures"))
    # QC
    rows = [
        [
            qc_name(item) if item else r.item_code,
            explain.criterion(item) if item else "",
            explain.qc_value(r.value),
            _("pass") if r.in_spec else _("FAIL"),
            str(r.tested_on),
            r.method,
        ]
        for r, item in data["qc"]
    ]
    story += doc.section(
        _("Quality control"),
        doc.table(
            [_("Test"), _("Specification"), _("Result"), _("Pass/fail"), _("Tested on"), _("Method")],
            rows,
            [45, 35, 30, 18, 22, 38],
            empty=_("No QC results."),
        ),
    )
    story += _sig_table(data["qc_signatures"], _("QC verification signatures"))
    # Deviations
    rows = [
        [
            d.code,
            d.source,
            d.description,
            d.investigation or "",
            d.outcome or "",
            _("closed") if d.status == "closed" else _("OPEN"),
        ]
        for d in data["deviations"]
    ]
    story += doc.section(
        _("Deviations"),
        doc.table(
            [_("Deviation"), _("Source"), _("Description"), _("Investigation"), _("Outcome"), _("Status")],
            rows,
            [24, 16, 50, 45, 35, 14],
            empty=_("None."),
        ),
    )
    if data["deviation_signatures"]:
        story += _sig_table(data["deviation_signatures"], _("Deviation closure signatures"))
    # Release
    story += doc.section(
        _("Review and release"), *_sig_table(data["release_signatures"], None, empty=_("Not reviewed or released."))
    )
    for d in data["dispositions"]:
        if d.reason:
            story.append(
                doc.para(
                    _(
                        "%(decision)s: %(reason)s",
                        reason=d.reason,
                        decision=explain.BATCH_STATUS_LABELS.get(d.decision, d.decision),
                    ),
                    st["base"],
                )
            )
    # Units
    rows = []
    for u, where, admin, recipient in data["units"]:
        if admin is None:
            dist = ""
        elif admin.status == "given":
            dist = _("%(r)s · administered %(t)s", r=recipient, t=format_dt(admin.given_at))
        else:
            dist = _(
                "%(r)s · %(code)s on %(d)s, not administered", r=recipient, code=admin.code, d=admin.scheduled_date
            )
        rows.append(
            [
                u.code,
                f"{u.volume_ml} mL",
                explain.STORAGE_LABELS[u.storage],
                explain.UNIT_STATUS_LABELS[u.status],
                where,
                str(u.expiry_date),
                dist,
            ]
        )
    story += doc.section(
        _("Dose units and distribution"),
        doc.table(
            [_("Unit"), _("Volume"), _("Storage"), _("Status"), _("Location"), _("Expiry"), _("Distribution")],
            rows,
            [32, 14, 24, 18, 34, 18, 45],
            empty=_("No units."),
        ),
    )
    # AEs
    rows = [
        [
            ae.code,
            ae.recipient_code,
            ae.term,
            str(ae.grade),
            str(ae.onset_date),
            ae.attribution_fmt,
            ae.attribution_cotherapy,
            _("yes") if ae.serious else _("no"),
        ]
        for ae in data["aes"]
    ]
    story += doc.section(
        _("Adverse events linked to this batch"),
        doc.table(
            [
                _("Event"),
                _("Recipient"),
                _("CTCAE term"),
                _("Grade"),
                _("Onset"),
                _("Related to FMT"),
                _("Related to co-therapy"),
                _("Serious"),
            ],
            rows,
            [18, 16, 40, 12, 20, 22, 24, 14],
            empty=_("None."),
        ),
    )
    # Audit trail
    # What happened to which record in one column, the change as "old → new" in the widest one: a record ID
    # and a lot get a column wide enough to stay on one line.
    rows = [
        [
            str(d.entry.id),
            d.when,
            d.user,
            _("%(action)s · %(record)s", action=d.action, record=d.record) + (f"\n{d.field}" if d.field else ""),
            d.change,
            d.reason,
        ]
        for d in data["audit"]
    ]
    story += doc.section(
        _("Audit trail of the batch (%(n)s rows)", n=len(rows)),
        doc.table(
            [_("#"), _("When"), _("User"), _("What (record, field)"), _("Change (old → new)"), _("Reason")],
            rows,
            [9, 32, 20, 44, 48, 27],
            empty=_("No rows."),
        ),
    )
    meta = doc.ReportMeta(
        title=_("Batch record report"),
        record=b.lot,
        subtitle=explain.PRODUCT_LABELS.get(b.storage, "") if b.storage else "",
        qr_payload=f"LIMS:LOT:{b.lot}",
        doc_version=doc_version(data),
        generated_by=_("Generated by %(name)s", name=generated_by),
        generated_at=format_dt(generated_at, seconds=True),
        footer_note=_("Printed copy of an electronic record; the electronic record is authoritative."),
        page_label=_("Page %(x)s of %(y)s"),
        watermark=None if released else _("NOT RELEASED"),
    )
    return doc.render(meta, story)
