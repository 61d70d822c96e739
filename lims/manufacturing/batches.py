"""The batch record: start from a donation, record steps in order, correct with a reason, verify (four-eyes)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlmodel import select

from ..audit.concurrency import check_version
from ..audit.signatures import sign_pending, valid_signatures
from ..audit.trail import change_reason
from ..core.counters import next_number
from ..equipment import operations as eq_ops
from ..equipment.rules import usable_for_gmp
from ..errors import NotFound, RuleViolation
from ..timefmt import lab_day_bounds_utc, to_lab
from . import explain
from .locks import lock_batch
from .models import Batch, BatchStep, Deviation, Donation, DoseUnit, ManufacturingSpec
from .rules import (
    enrichment_minutes,
    enrichment_over_limit,
    fresh_use_by,
    frozen_expiry,
    lot_number,
    next_planned,
    parse_mesh_stages,
    parse_quantity,
    processing_start_problem,
    step_param_problems,
    step_plan,
    step_time_problems,
    transition_allowed,
    unit_code,
)
from .spec import limits_of

STEP_FIELDS = {
    "homogenisation": ("diluent", "volume_ml"),
    "microfiltration": ("mesh_um",),
    "wash": ("g_force", "minutes", "temperature_c"),
    "resuspension": ("volume_ml", "diluent", "cryoprotectant", "cryoprotectant_pct"),
    "fill": ("dose_count", "unit_volume_ml", "storage"),
}
TEXT_FIELDS = {"diluent", "cryoprotectant", "storage"}


def get(session, lot: str) -> Batch:
    batch = session.exec(select(Batch).where(Batch.lot == (lot or "").strip().upper())).first()
    if batch is None:
        raise NotFound(_("No such batch."))
    return batch


def lock(session, batch: Batch) -> Batch:
    """Take the batch's row lock and re-read it (lims.manufacturing.locks): call it before reading anything
    the decision depends on."""
    lock_batch(session, batch.id)
    return batch


def limits_for(session, batch_or_donation):
    return limits_of(session.get(ManufacturingSpec, batch_or_donation.spec_id))


def set_status(session, batch: Batch, target: str, reason: str) -> None:
    """Every status change goes through the machine; a refused transition names both states."""
    if not transition_allowed(batch.status, target):
        raise RuleViolation(
            _(
                "A batch that is %(current)s cannot become %(target)s.",
                current=explain.BATCH_STATUS_LABELS[batch.status],
                target=explain.BATCH_STATUS_LABELS[target],
            )
        )
    with change_reason(session, reason):
        batch.status = target


# --- start -------------------------------------------------------------------------------------


def start(
    session, donation: Donation, device_code: str, run_number: str, started_at: datetime, user, now: datetime
) -> Batch | None:
    """Start processing. Too late after collection: the donation is rejected (and stays rejected) and None returned."""
    if donation.status == "rejected":
        raise RuleViolation(
            _("Donation %(code)s was rejected: %(reason)s", code=donation.code, reason=donation.rejection_reason)
        )
    if donation.status != "received":
        raise RuleViolation(
            _("Donation %(code)s is already processed: one batch per donation, never pooled.", code=donation.code)
        )
    from .release import holding_cases

    held = holding_cases(session, "donation", donation.id)
    if held:
        raise RuleViolation(
            _(
                "Donation %(code)s is held by lookback case %(cases)s and cannot be processed.",
                code=donation.code,
                cases=", ".join(held),
            )
        )
    if started_at > now:
        raise RuleViolation(_("The processing start time is in the future."))
    device = eq_ops.by_code(session, device_code or "")
    if device is None or device.kind != "purification_device":
        raise RuleViolation(
            _("%(code)s is not a registered purification device.", code=(device_code or "").strip() or "-")
        )
    from ..audit.signatures import current_signature

    approval = current_signature(session, device, "approved")
    if not usable_for_gmp(device.status, bool(approval and approval.valid), device.calibration_due, to_lab(now).date()):
        raise RuleViolation(
            _("Device %(code)s is not usable for GMP work (status, QA approval or calibration).", code=device.code)
        )
    if not (run_number or "").strip():
        raise RuleViolation(_("Enter the device run number."))
    limits = limits_for(session, donation)
    problem = processing_start_problem(donation.collected_at, started_at, limits)
    if problem and problem[0] == "processing_too_late":
        reason = explain.text(*problem)
        with change_reason(session, reason):
            donation.status = "rejected"
            donation.rejection_reason = reason
        return None
    if problem:
        raise RuleViolation(explain.text(*problem))
    day = to_lab(started_at).date()
    batch = Batch(
        lot=lot_number(day, next_number(session, f"lot-{day:%Y%m%d}")),
        donation_id=donation.id,
        donor_id=donation.donor_id,
        spec_id=donation.spec_id,
        production_day=day,
        started_at=started_at,
        device_id=device.id,
        run_number=run_number.strip(),
    )
    session.add(batch)
    with change_reason(session, f"batch {batch.lot} started"):
        donation.status = "processing"
    session.flush()
    return batch


# --- steps -------------------------------------------------------------------------------------


def steps_of(session, batch: Batch) -> list[BatchStep]:
    return list(
        session.exec(select(BatchStep).where(BatchStep.batch_id == batch.id).order_by(BatchStep.position)).all()
    )


def plan_of(session, batch: Batch):
    return step_plan(limits_for(session, batch))


def params_of(step: BatchStep) -> dict:
    return json.loads(step.params)


def _parse(kind: str, raw: dict) -> dict:
    out = {}
    for name in STEP_FIELDS[kind]:
        value = (raw.get(name) or "").strip()
        if name in TEXT_FIELDS:
            out[name] = value
        elif name == "mesh_um":
            out[name] = parse_mesh_stages(value)
        elif name == "dose_count":
            out[name] = int(value) if value.isdigit() else None
        else:
            out[name] = parse_quantity(value)
    return out


def _stored(params: dict) -> str:
    def conv(v):
        if isinstance(v, Decimal):
            return f"{v.normalize():f}"
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return json.dumps({k: conv(v) for k, v in params.items() if k != "resuspension_volume_ml"}, ensure_ascii=False)


def _neighbours(steps: list[BatchStep], position: int):
    prev = next((s for s in reversed(steps) if s.position < position), None)
    nxt = next((s for s in steps if s.position > position), None)
    return prev, nxt


def _check(session, batch, kind, params, started_at, ended_at, steps, position, now):
    limits = limits_for(session, batch)
    if kind == "fill":
        resus = next((s for s in steps if s.kind == "resuspension"), None)
        params["resuspension_volume_ml"] = Decimal(params_of(resus)["volume_ml"]) if resus else None
    prev, nxt = _neighbours(steps, position)
    problems = step_param_problems(kind, params, limits)
    fill = next((s for s in steps if s.kind == "fill"), None)
    if kind == "resuspension" and fill is not None and params.get("volume_ml") is not None:
        filled = params_of(fill)
        need = int(filled["dose_count"]) * Decimal(filled["unit_volume_ml"])
        if need > params["volume_ml"]:  # a correction may not leave more filled than was resuspended
            problems.append(("fill_exceeds_volume", {"need": need, "have": params["volume_ml"]}))
    problems += step_time_problems(
        started_at, ended_at, prev.ended_at if prev else None, nxt.started_at if nxt else None, now
    )
    if problems:
        raise RuleViolation(explain.texts(problems))


def record_step(
    session,
    batch: Batch,
    position: int,
    raw: dict,
    started_at: datetime | None,
    ended_at: datetime | None,
    user,
    now: datetime,
) -> BatchStep:
    """Record the next step; any other position is refused (no skipping, no out-of-order entry)."""
    lock_batch(session, batch.id)
    if batch.status != "in_process":
        raise RuleViolation(
            _(
                "Batch %(lot)s is %(status)s: its steps are complete.",
                lot=batch.lot,
                status=explain.BATCH_STATUS_LABELS[batch.status],
            )
        )
    steps = steps_of(session, batch)
    nxt = next_planned(plan_of(session, batch), {s.position for s in steps})
    if nxt is None or position != nxt.position:
        raise RuleViolation(
            _(
                "Steps are recorded in order: the next step is %(step)s.",
                step=explain.step_label(nxt.kind, nxt.seq) if nxt else "-",
            )
        )
    if nxt.kind == "homogenisation":
        started_at = batch.started_at  # homogenisation starts the processing (checked against the collection limit)
    if started_at is None or ended_at is None:
        raise RuleViolation(_("Enter the start and end time of the step."))
    params = _parse(nxt.kind, raw)
    _check(session, batch, nxt.kind, params, started_at, ended_at, steps, position, now)
    step = BatchStep(
        batch_id=batch.id,
        lot=batch.lot,
        position=position,
        kind=nxt.kind,
        seq=nxt.seq,
        params=_stored(params),
        started_at=started_at,
        ended_at=ended_at,
        operator_id=user.id,
    )
    session.add(step)
    session.flush()
    steps.append(step)
    _after_step(session, batch, steps)
    if nxt.kind == "fill":
        _fill(session, batch, params, ended_at)
        set_status(session, batch, "awaiting_qc", f"fill recorded: {params['dose_count']} units")
    return step


def correct_step(
    session, step: BatchStep, expected_version, raw: dict, started_at, ended_at, reason: str, now: datetime, labels=None
) -> None:
    """A correction keeps the old values in the audit trail and needs a reason; it voids the step's verification."""
    batch = session.get(Batch, step.batch_id)
    lock_batch(session, batch.id)
    if batch.status not in ("in_process", "awaiting_qc", "quarantine"):
        raise RuleViolation(
            _(
                "Batch %(lot)s is %(status)s: its record can no longer be corrected.",
                lot=batch.lot,
                status=explain.BATCH_STATUS_LABELS[batch.status],
            )
        )
    if step.kind == "fill":
        raise RuleViolation(
            _("The fill cannot be corrected once dose units exist; open a deviation and discard the affected units.")
        )
    if not (reason or "").strip():
        raise RuleViolation(_("A reason is required to correct a recorded step."))
    params = _parse(step.kind, raw)
    check_version(session, step, expected_version, {"params": _stored(params)}, labels)
    if step.kind == "homogenisation":
        started_at = batch.started_at
    if started_at is None or ended_at is None:
        raise RuleViolation(_("Enter the start and end time of the step."))
    steps = steps_of(session, batch)
    _check(session, batch, step.kind, params, started_at, ended_at, steps, step.position, now)
    with change_reason(session, reason):
        step.params, step.started_at, step.ended_at = _stored(params), started_at, ended_at
    _after_step(session, batch, steps, reason)


def _after_step(session, batch: Batch, steps: list[BatchStep], reason: str | None = None) -> None:
    """After the last wash: enrichment time against its limit; over the limit opens a process deviation."""
    limits = limits_for(session, batch)
    washes = [s for s in steps if s.kind == "wash"]
    homog = next((s for s in steps if s.kind == "homogenisation"), None)
    if homog is None or len(washes) < limits.washes_required:
        return
    minutes = enrichment_minutes(homog.started_at, max(w.ended_at for w in washes))
    if minutes != batch.enrichment_minutes:
        with change_reason(session, reason or "enrichment time computed after the last wash"):
            batch.enrichment_minutes = minutes
    if enrichment_over_limit(minutes, limits):
        from .qc import open_deviation

        exists = session.exec(
            select(Deviation).where(
                Deviation.batch_id == batch.id, Deviation.source == "process", Deviation.status == "open"
            )
        ).first()
        if exists is None:
            open_deviation(
                session,
                batch,
                "process",
                _(
                    "Enrichment and purification took %(minutes)s min from the start of homogenisation to the end of the last wash; the limit is %(limit)s min.",
                    minutes=minutes,
                    limit=limits.enrichment_limit_minutes,
                ),
            )


def unit_expiry(storage: str, donation_day, filled_at: datetime, limits) -> tuple:
    """(expiry date, first instant expired) of units filled at ``filled_at``, in the lab's days:
    frozen units through donation + N months, fresh ones fill + N hours within the production day."""
    if storage == "frozen":
        expiry = frozen_expiry(donation_day, limits)
        return expiry, lab_day_bounds_utc(expiry)[1]
    expires_at = fresh_use_by(filled_at, lab_day_bounds_utc(to_lab(filled_at).date())[1], limits)
    return to_lab(expires_at - timedelta(seconds=1)).date(), expires_at


def _fill(session, batch: Batch, params: dict, filled_at: datetime) -> None:
    limits = limits_for(session, batch)
    donation = session.get(Donation, batch.donation_id)
    storage = params["storage"]
    expiry, expires_at = unit_expiry(storage, donation.collection_day, filled_at, limits)
    with change_reason(session, "fill recorded"):
        batch.storage, batch.expiry_date = storage, expiry
    for n in range(1, params["dose_count"] + 1):
        session.add(
            DoseUnit(
                code=unit_code(batch.lot, n),
                batch_id=batch.id,
                lot=batch.lot,
                seq=n,
                volume_ml=params["unit_volume_ml"],
                storage=storage,
                expiry_date=expiry,
                expires_at=expires_at,
            )
        )
    session.flush()


# --- verification ------------------------------------------------------------------------------


def verified_steps(session, steps: list[BatchStep]) -> dict:
    return valid_signatures(session, "batch_step", {s.audit_record_id: s for s in steps}, "verified")


def verify_steps(session, batch: Batch, user, password: str, comment: str | None, client=None) -> int:
    """Second-person verification of every recorded step not yet (validly) verified."""
    return sign_pending(
        session,
        steps_of(session, batch),
        "verified",
        user,
        password,
        comment=comment,
        client=client,
        performers_of=lambda s: (s.operator_id, s.created_by_id, s.updated_by_id),
        nothing_left=_("Every recorded step is already verified."),
    )
