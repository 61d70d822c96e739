"""Donor clearance, the QA audit-trail review, and the signed dispositions: release, rejection, recall."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func
from sqlmodel import select

from ..audit.models import AuditEntry, Signature
from ..audit.signatures import current_signature, sign
from ..audit.trail import change_reason
from ..donors.models import Donor
from ..donors.screening_models import EligibilityDecision, ScreeningResult
from ..errors import RuleViolation
from . import explain
from .batches import limits_for, plan_of, set_status, steps_of, verified_steps
from .models import Batch, BatchDisposition, BatchReview, BatchStep, Deviation, Donation, DoseUnit, QcResult
from .qc import results_of, verified_results
from .rules import PassedScreening, ReleaseFacts, release_blockers
from .rules import clearance as clearance_rule
from .spec import qc_items, qc_name

BATCH_ENTITIES = ("batch", "batch_step", "qc_result", "deviation", "dose_unit", "batch_review", "batch_disposition")
REVIEW_ENTITIES = ("batch_review", "batch_disposition")  # the review's own rows do not make it stale


def _record_ids(session, batch: Batch) -> list[str]:
    """Every audit record id of the batch's records: an IN list the (entity, record_id) index serves on any collation."""
    ids = [batch.lot]
    for model in (BatchStep, QcResult, Deviation, BatchReview, BatchDisposition, DoseUnit):
        ids += [r.audit_record_id for r in session.exec(select(model).where(model.batch_id == batch.id)).all()]
    return ids


def _batch_rows_clause(session, batch: Batch):
    return AuditEntry.entity.in_(BATCH_ENTITIES) & AuditEntry.record_id.in_(_record_ids(session, batch))


def audit_rows(session, batch: Batch, limit: int = 1000) -> list[AuditEntry]:
    """The batch's audit trail: its record, steps, QC, deviations, units, reviews and dispositions."""
    return list(
        session.exec(
            select(AuditEntry).where(_batch_rows_clause(session, batch)).order_by(AuditEntry.id.desc()).limit(limit)
        ).all()
    )


def _last_row_id(session, batch: Batch, exclude_review=False) -> int:
    clause = _batch_rows_clause(session, batch)
    if exclude_review:  # the review's own rows and label prints change nothing a reviewer judged
        clause = clause & AuditEntry.entity.not_in(REVIEW_ENTITIES) & (AuditEntry.action != "print")
    return session.exec(select(func.max(AuditEntry.id)).where(clause)).one() or 0


def batch_records(session, batch: Batch) -> list:
    """Every record of the batch a reviewer or signer sees on its page."""
    from .qc import deviations_of

    units = list(session.exec(select(DoseUnit).where(DoseUnit.batch_id == batch.id)).all())
    return [batch, *steps_of(session, batch), *results_of(session, batch), *deviations_of(session, batch), *units]


def batch_fingerprint(session, batch: Batch) -> str:
    """The batch page's content: its records and the newest audit row a review would cover."""
    from ..audit.fingerprint import fingerprint

    return fingerprint(batch_records(session, batch), _last_row_id(session, batch, exclude_review=True))


def expect_batch_content(session, batch: Batch, expected: str | None) -> None:
    """The signature about to be made is over the batch page the signer saw (checked when it signs)."""
    from ..audit.fingerprint import expect_content

    expect_content(session, expected, batch_records(session, batch), _last_row_id(session, batch, exclude_review=True))


# --- donor clearance -----------------------------------------------------------------------------


def signed_decisions(session, donor_id: int, eligible_only: bool = False) -> list[PassedScreening]:
    """Approved decisions (valid signature) with the earliest sample date of their screening."""
    q = select(EligibilityDecision).where(EligibilityDecision.donor_id == donor_id)
    if eligible_only:
        q = q.where(EligibilityDecision.outcome == "eligible")
    out = []
    for d in session.exec(q).all():
        sig = current_signature(session, d, "approved")
        if not (sig and sig.valid):
            continue
        first = session.exec(
            select(func.min(ScreeningResult.sample_date)).where(ScreeningResult.screening_id == d.screening_id)
        ).one()
        if first is not None:
            out.append(PassedScreening(d.id, d.as_of, first, d.until, d.outcome))
    return out


def passed_screenings(session, donor_id: int) -> list[PassedScreening]:
    return signed_decisions(session, donor_id, eligible_only=True)


def release_basis(session, batch: Batch) -> str:
    """The spec version's release basis for the batch's storage (frozen until the fill says otherwise)."""
    limits = limits_for(session, batch)
    return limits.fresh_release_basis if batch.storage == "fresh" else limits.frozen_release_basis


def _day_check_passed(session, donor_id: int, day) -> bool:
    from ..donors.screening_models import DonationDayCheck

    check = session.exec(
        select(DonationDayCheck)
        .where(DonationDayCheck.donor_id == donor_id, DonationDayCheck.check_date == day)
        .order_by(DonationDayCheck.id.desc())
    ).first()
    return bool(check and check.passed)


def clearance_of(session, batch: Batch) -> tuple[PassedScreening | None, str | None]:
    """(the decision that clears the batch's donation under its release basis, or the blocker code)."""
    donation = session.get(Donation, batch.donation_id)
    basis = release_basis(session, batch)
    day_check = basis == "eligible_at_donation" and _day_check_passed(session, batch.donor_id, donation.collection_day)
    return clearance_rule(basis, signed_decisions(session, batch.donor_id), donation.collection_day, day_check)


def clearance(session, batch: Batch) -> PassedScreening | None:
    return clearance_of(session, batch)[0]


# --- review ---------------------------------------------------------------------------------------


def latest_review(session, batch: Batch, user_id: int | None) -> BatchReview | None:
    """The user's (None: anyone's) latest review of the batch that carries a valid "reviewed" signature."""
    q = select(BatchReview).where(BatchReview.batch_id == batch.id)
    if user_id is not None:
        q = q.where(BatchReview.created_by_id == user_id)
    rows = session.exec(q.order_by(BatchReview.id.desc())).all()
    for r in rows:
        sig = current_signature(session, r, "reviewed")
        if sig and sig.valid:
            return r
    return None


def record_review(session, batch: Batch, user, password: str, comment: str | None, client=None) -> BatchReview:
    """QA signs that they reviewed the batch's audit trail up to its newest row."""
    if batch.status not in ("awaiting_qc", "quarantine"):
        raise RuleViolation(_("The audit-trail review is recorded for a batch awaiting QC or in quarantine."))
    last = _last_row_id(session, batch, exclude_review=True)
    count = session.exec(
        select(func.count())
        .select_from(AuditEntry)
        .where(_batch_rows_clause(session, batch) & AuditEntry.entity.not_in(REVIEW_ENTITIES))
    ).one()
    review = BatchReview(batch_id=batch.id, lot=batch.lot, last_audit_id=last, rows_reviewed=count)
    session.add(review)
    session.flush()
    sign(session, review, "reviewed", user, password, comment=comment, client=client)
    return review


# --- release ---------------------------------------------------------------------------------------


def performers(session, batch: Batch) -> set[int]:
    """Everyone who started the batch, entered or verified a step or a QC result."""
    steps, results = steps_of(session, batch), results_of(session, batch)
    ids = {batch.created_by_id}
    for r in [*steps, *results]:
        ids |= {r.created_by_id, r.updated_by_id}
    ids |= {s.operator_id for s in steps}
    # Everyone who ever created or changed a step or QC result, not only the last editor.
    ids |= set(
        session.exec(
            select(AuditEntry.user_id).where(
                AuditEntry.entity.in_(("batch", "batch_step", "qc_result")),
                AuditEntry.action.in_(("create", "update")),
                AuditEntry.record_id.in_([batch.lot, *[r.audit_record_id for r in [*steps, *results]]]),
            )
        ).all()
    )
    ids |= set(
        session.exec(
            select(Signature.user_id).where(
                Signature.meaning == "verified",
                Signature.record_type.in_(("batch_step", "qc_result")),
                Signature.record_id.in_([r.audit_record_id for r in [*steps, *results]]),
            )
        ).all()
    )
    return {i for i in ids if i is not None}


def holding_cases(session, kind: str, ref_id: int) -> list[str]:
    """The lookback cases holding a donation or batch (a read of the lookback's table, not a call into it)."""
    from ..lookback.models import LookbackHold

    return sorted(
        set(
            session.exec(
                select(LookbackHold.case_code).where(
                    LookbackHold.kind == kind, LookbackHold.ref_id == ref_id, LookbackHold.active.is_(True)
                )
            ).all()
        )
    )


def release_facts(session, batch: Batch, user, now: datetime | None = None) -> ReleaseFacts:
    from ..clock import utcnow
    from .queries import batch_expires_at

    steps = steps_of(session, batch)
    recorded = {s.position for s in steps}
    verified = verified_steps(session, steps)
    results = results_of(session, batch)
    items = qc_items(session, batch.spec_id)
    by_code = {r.item_code: r for r in results}
    qc_verified = verified_results(session, results)
    names = {i.code: qc_name(i) for i in items}
    deviations = session.exec(
        select(Deviation.code).where(Deviation.batch_id == batch.id, Deviation.status == "open")
    ).all()
    donation = session.get(Donation, batch.donation_id)
    donor = session.get(Donor, batch.donor_id)
    review = latest_review(session, batch, user.id if user is not None else None)
    cleared, problem = clearance_of(session, batch)
    return ReleaseFacts(
        status=batch.status,
        steps_missing=tuple(
            explain.step_label(p.kind, p.seq) for p in plan_of(session, batch) if p.position not in recorded
        ),
        steps_unverified=tuple(explain.step_label(s.kind, s.seq) for s in steps if s.audit_record_id not in verified),
        qc_missing=tuple(names[i.code] for i in items if i.code not in by_code),
        qc_unverified=tuple(names[r.item_code] for r in results if r.audit_record_id not in qc_verified),
        qc_out_of_spec=tuple(names[r.item_code] for r in results if not r.in_spec),
        open_deviations=tuple(deviations),
        lookback_holds=tuple(holding_cases(session, "batch", batch.id)),
        expires_at=batch_expires_at(session, batch),
        now=now or utcnow(),
        donor_cleared=cleared is not None,
        clearance_problem=problem or "donor_not_cleared",
        donor_suspended=(donor.status_reason or donor.status) if donor.status in ("suspended", "excluded") else None,
        donor_code=donor.code,
        donation_day=donation.collection_day,
        review_by_user=review is not None,
        review_current=review is not None and _last_row_id(session, batch, exclude_review=True) <= review.last_audit_id,
        user_is_performer=user is not None and user.id in performers(session, batch),
    )


def blockers(session, batch: Batch, user) -> list[str]:
    """The blockers for this QA officer; with user=None, for QA in general (shown to other roles)."""
    found = release_blockers(release_facts(session, batch, user))
    return [
        explain.text(
            b.code if user is not None or b.code not in ("no_review", "review_stale") else b.code + "_any", b.params
        )
        for b in found
    ]


def _disposition(session, batch, decision, reason, user, password, comment, meaning, client, performer_ids=()):
    row = BatchDisposition(batch_id=batch.id, lot=batch.lot, decision=decision, reason=(reason or "").strip() or None)
    session.add(row)
    session.flush()
    sign(session, row, meaning, user, password, comment=comment, performers=performer_ids, client=client)
    return row


def release(session, batch: Batch, user, password: str, comment: str | None, client=None) -> BatchDisposition:
    """QA release by signature: refused with every blocker named until none is left."""
    problems = blockers(session, batch, user)
    if problems:
        raise RuleViolation(
            _("Batch %(lot)s cannot be released: %(reasons)s", lot=batch.lot, reasons=" ".join(problems))
        )
    who = tuple(performers(session, batch))  # before the release itself adds this officer to the batch's trail
    set_status(session, batch, "released", "released by QA")
    units = session.exec(select(DoseUnit).where(DoseUnit.batch_id == batch.id, DoseUnit.status == "quarantine")).all()
    with change_reason(session, f"batch {batch.lot} released"):
        for u in units:
            u.status = "available"
    return _disposition(
        session, batch, "released", None, user, password, comment, "released", client, performer_ids=who
    )


def reject(session, batch: Batch, user, password: str, reason: str, client=None) -> BatchDisposition:
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required to reject a batch."))
    set_status(session, batch, "rejected", reason)
    with change_reason(session, f"batch {batch.lot} rejected: {reason.strip()}"):
        batch.status_reason = reason.strip()
        for u in session.exec(select(DoseUnit).where(DoseUnit.batch_id == batch.id)).all():
            u.status, u.status_reason, u.box_id, u.position = "discarded", reason.strip(), None, None
    return _disposition(session, batch, "rejected", reason, user, password, None, "rejected", client)


def recall(session, batch: Batch, user, password: str, reason: str, client=None) -> BatchDisposition:
    """A released batch is recalled: every unit not yet administered is recalled with it."""
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required to recall a batch."))
    set_status(session, batch, "recalled", reason)
    with change_reason(session, f"batch {batch.lot} recalled: {reason.strip()}"):
        batch.status_reason = reason.strip()
        for u in session.exec(
            select(DoseUnit).where(
                DoseUnit.batch_id == batch.id, DoseUnit.status.in_(("available", "reserved", "issued"))
            )
        ).all():
            u.status, u.status_reason = "recalled", reason.strip()
    return _disposition(session, batch, "recalled", reason, user, password, None, "approved", client)


def dispositions_of(session, batch: Batch) -> list[BatchDisposition]:
    return list(
        session.exec(
            select(BatchDisposition).where(BatchDisposition.batch_id == batch.id).order_by(BatchDisposition.id)
        ).all()
    )


def expire_due(session, now: datetime, limit: int | None = None) -> tuple[int, int]:
    """Units past their expiry, or thawed longer than the thaw window, become expired; a released batch whose
    units all expired becomes expired.

    With ``limit``, at most that many units (lowest ids first) in this call: the scheduler expires them in
    batches, one transaction each. A unit already expired is never selected again, so a run taken over after
    its process died continues with the rest and writes each unit's audit row once."""
    from .batches import limits_for

    units = list(
        session.exec(
            select(DoseUnit).where(
                DoseUnit.status.in_(("quarantine", "available", "reserved")), DoseUnit.expires_at <= now
            )
        ).all()
    )
    thawed = session.exec(
        select(DoseUnit).where(
            DoseUnit.status.in_(("available", "reserved")), DoseUnit.thawed_at.is_not(None), DoseUnit.expires_at > now
        )
    ).all()
    for u in thawed:
        batch = session.get(Batch, u.batch_id)
        if u.thawed_at + timedelta(hours=limits_for(session, batch).thaw_use_hours) < now:
            units.append(u)
    if limit is not None:
        units = sorted(units, key=lambda u: u.id)[:limit]
    with change_reason(session, "expiry or thaw window passed"):
        for u in units:
            u.status = "expired"
    batches = 0
    for batch_id in sorted({u.batch_id for u in units}):
        batch = session.get(Batch, batch_id)
        live = session.exec(
            select(func.count())
            .select_from(DoseUnit)
            .where(DoseUnit.batch_id == batch_id, DoseUnit.status.in_(("quarantine", "available", "reserved")))
        ).one()
        if batch.status == "released" and live == 0:
            set_status(session, batch, "expired", "every unit expired")
            batches += 1
    return len(units), batches
