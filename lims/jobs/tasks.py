"""The scheduled jobs and the due-work lists they share with the dashboard.

A job changes state only through the domain's own operations (so each change
is audited, with the scheduler as the actor); lists of work that a person must
do (review a batch, dispose of a sample) are computed, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlmodel import select

from ..audit.models import AuditEntry
from ..audit.trail import audit_event, change_reason
from ..manufacturing.models import Batch, Deviation, Donation, DoseUnit
from . import rules
from .models import RetainedDisposal


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable  # (session, now, today) -> dict of counts
    every_minutes: int | None  # interval jobs; None: daily at ``at`` lab time
    at: tuple[int, int] = (0, 5)
    description: object = ""  # a lazy translated text
    # (session, now, today, limit) -> (counts, more): one batch of the work, committed on its own; None: ``run``
    # is one transaction. Either way the work is idempotent: it works from the current state, so a run taken
    # over after its process died never does a unit twice.
    step: Callable | None = None


# --- expiry and thaw window ------------------------------------------------------------------------


def expire(session, now: datetime, today: date) -> dict:
    from ..manufacturing.release import expire_due

    units, batches = expire_due(session, now)
    return {"units_expired": units, "batches_expired": batches}


def expire_step(session, now: datetime, today: date, limit: int) -> tuple[dict, bool]:
    """One batch of ``expire``: at most ``limit`` units; more may be due when the batch was full."""
    from ..manufacturing.release import expire_due

    units, batches = expire_due(session, now, limit)
    return {"units_expired": units, "batches_expired": batches}, units >= limit


def thawed_to_discard(session, now: datetime) -> list[tuple[DoseUnit, str | None]]:
    """Thawed units past use that still wait to be discarded, with the dose they were issued for.

    Expired units in the lab are discarded from their unit page; a unit already issued to the ward
    stays "issued" (the job does not take it from its dose) and is discarded from the dose page."""
    from ..clinical.course_models import Administration
    from ..manufacturing.batches import limits_for

    expired = session.exec(select(DoseUnit).where(DoseUnit.status == "expired", DoseUnit.thawed_at.is_not(None))).all()
    out = [(u, None) for u in expired]
    issued = session.exec(
        select(DoseUnit, Administration.code)
        .join(Administration, Administration.unit_id == DoseUnit.id)
        .where(DoseUnit.status == "issued", DoseUnit.thawed_at.is_not(None))
    ).all()
    for u, dose in issued:
        hours = limits_for(session, session.get(Batch, u.batch_id)).thaw_use_hours
        if now > u.thawed_at + timedelta(hours=hours) or now >= u.expires_at:
            out.append((u, dose))
    return sorted(out, key=lambda pair: pair[0].thawed_at)


IN_DATE_STATUSES = ("available", "reserved", "quarantine")


def expiring_units(session, now: datetime, today: date, days: int = 7) -> list[DoseUnit]:
    """Units still in date that expire within ``days`` lab days (an expired unit is never listed here)."""
    return list(
        session.exec(
            select(DoseUnit)
            .where(
                DoseUnit.status.in_(IN_DATE_STATUSES),
                DoseUnit.expires_at > now,
                DoseUnit.expiry_date <= today + timedelta(days=days),
            )
            .order_by(DoseUnit.expiry_date, DoseUnit.code)
            .limit(200)
        ).all()
    )


def expired_in_stock(session, now: datetime, limit: int = 200) -> list[DoseUnit]:
    """Expired units still in the lab, waiting to be discarded: marked expired by the job, or past their expiry
    instant before the job ran. Thawed ones are listed with the thawed units to discard."""
    from sqlalchemy import or_

    return list(
        session.exec(
            select(DoseUnit)
            .where(
                DoseUnit.thawed_at.is_(None),
                or_(DoseUnit.status == "expired", DoseUnit.status.in_(IN_DATE_STATUSES) & (DoseUnit.expires_at <= now)),
            )
            .order_by(DoseUnit.expires_at, DoseUnit.code)
            .limit(limit)
        ).all()
    )


# --- donors ----------------------------------------------------------------------------------------


def donor_eligibility(session, now: datetime, today: date) -> dict:
    """Eligible donors past their end date become "screening expired"; those ending within 7 days are counted."""
    from ..donors.models import Donor

    eligible = session.exec(select(Donor).where(Donor.status == "eligible")).all()
    expired = [d for d in eligible if rules.eligibility_over(d.status_until, today)]
    for d in expired:
        with change_reason(session, f"eligibility ended on {d.status_until}: re-screening needed"):
            d.status = "screening_expired"
    due = [d for d in eligible if rules.rescreen_due(d.status_until, today)]
    return {"screening_expired": len(expired), "rescreen_due": len(due)}


def rescreen_due(session, today: date) -> list:
    from ..donors.models import Donor

    rows = session.exec(
        select(Donor)
        .where(Donor.status.in_(("eligible", "screening_expired", "suspended")))
        .order_by(Donor.status_until)
    ).all()
    # a suspended donor donates again only after a new screening's signed decision: it is due now
    return [
        d for d in rows if d.status in ("screening_expired", "suspended") or rules.rescreen_due(d.status_until, today)
    ]


# --- quarantine clearance --------------------------------------------------------------------------


def ready_for_review(session) -> list[Batch]:
    """Quarantined batches whose donor now has a clearing screening: QA reviews and releases them (never automatic)."""
    from ..manufacturing.release import clearance

    return [
        b
        for b in session.exec(select(Batch).where(Batch.status == "quarantine").order_by(Batch.lot)).all()
        if clearance(session, b) is not None
    ]


def quarantine_clearance(session, now: datetime, today: date) -> dict:
    return {"ready_for_review": len(ready_for_review(session))}


def open_deviations(session) -> list[Deviation]:
    return list(session.exec(select(Deviation).where(Deviation.status == "open").order_by(Deviation.code)).all())


# --- retained samples ------------------------------------------------------------------------------


def retained_due(session, today: date) -> list[Donation]:
    disposed = select(RetainedDisposal.donation_id)
    return list(
        session.exec(
            select(Donation)
            .where(Donation.retained_until < today, Donation.id.not_in(disposed))
            .order_by(Donation.retained_until)
        ).all()
    )


def retained_samples(session, now: datetime, today: date) -> dict:
    return {"due_for_disposal": len(retained_due(session, today))}


# --- SAE deadlines ---------------------------------------------------------------------------------


def sae_reports(session, now: datetime) -> list[tuple]:
    """(event, "ethics"|"regulatory", due, "missed"|"soon"|"open") for every unreported SAE report, soonest first.

    Every report is listed until it is sent; "soon" and "missed" say how urgent it is."""
    from ..clinical.adverse_events import open_reports

    return [(ae, to, due, rules.report_state(due, None, now) or "open") for ae, to, due in open_reports(session)]


def sae_deadlines(session, now: datetime, today: date) -> dict:
    """A missed deadline is written into the event's audit trail once, by the scheduler."""
    missed = soon = flagged = 0
    for ae, to, _due, state in sae_reports(session, now):
        if state != "missed":
            soon += state == "soon"
            continue
        missed += 1
        already = session.exec(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "deadline_missed",
                AuditEntry.entity == "adverse_event",
                AuditEntry.record_id == ae.code,
                AuditEntry.field == to,
            )
        ).one()
        if not already:
            audit_event(
                session,
                "deadline_missed",
                "adverse_event",
                ae.code,
                field=to,
                new=f"{to} report due {_due.isoformat()}",
                reason="SAE report deadline passed unreported",
            )
            flagged += 1
    return {"missed": missed, "newly_flagged": flagged, "due_within_24h": soon}


# --- audit trail checkpoint ------------------------------------------------------------------------


def audit_checkpoint(session, now: datetime, today: date) -> dict:
    """Verify the audit trail and write a checkpoint of its head outside the database (docs/hardening.md).

    A broken trail fails the run (listed for QA on the home page and at /jobs/) and writes no checkpoint.
    The verification reads in its own read transaction, so writers are never held up by it."""
    from ..audit import checkpoints
    from ..audit.keys import audit_key
    from ..audit.trail import verify_stored_chain
    from ..db import transaction

    with transaction(session.info.get("actor"), write=False) as r:
        result = verify_stored_chain(r)
    if not result.ok:
        where = f" at row {result.broken_at}" if result.broken_at is not None else ""
        raise RuntimeError(f"audit trail broken{where}: {result.problem}")
    checkpoints.write(audit_key(), result.head_seq, result.head_hash, f"daily job {today.isoformat()}")
    return {"rows_verified": result.checked, "head_seq": result.head_seq}


JOBS: dict[str, Job] = {
    j.name: j
    for j in (
        Job(
            "expire",
            expire,
            15,
            description=_l("expire dose units past expiry or thaw window, and fully expired batches"),
            step=expire_step,
        ),
        Job("sae_deadlines", sae_deadlines, 15, description=_l("flag SAE reports past their deadline")),
        Job(
            "quarantine_clearance",
            quarantine_clearance,
            60,
            description=_l("count quarantined batches ready for QA review"),
        ),
        Job(
            "donor_eligibility",
            donor_eligibility,
            None,
            (0, 5),
            _l("end eligibility past its date; count re-screenings due"),
        ),
        Job("retained_samples", retained_samples, None, (0, 10), _l("count retained samples due for disposal")),
        Job(
            "audit_checkpoint",
            audit_checkpoint,
            None,
            (0, 30),
            _l("verify the audit trail and checkpoint its head outside the database"),
        ),
    )
}


# Display labels (docs/i18n.md): the job's code stays what ``lims run-jobs`` takes and what job_run stores;
# pages show the title, and a run's counts (stored as JSON {key: n}) as "label: n".
JOB_TITLES = {
    "expire": _l("Expiry of units and batches"),
    "sae_deadlines": _l("SAE report deadlines"),
    "quarantine_clearance": _l("Quarantine batch review"),
    "donor_eligibility": _l("Donor eligibility"),
    "retained_samples": _l("Retained samples"),
    "audit_checkpoint": _l("Audit trail checkpoint"),
}
COUNT_LABELS = {
    "units_expired": _l("units expired"),
    "batches_expired": _l("batches expired"),
    "screening_expired": _l("screenings expired"),
    "rescreen_due": _l("re-screenings due"),
    "ready_for_review": _l("batches ready for review"),
    "due_for_disposal": _l("retained samples due for disposal"),
    "missed": _l("deadlines missed"),
    "newly_flagged": _l("newly flagged"),
    "due_within_24h": _l("due within 24 h"),
    "rows_verified": _l("audit rows verified"),
    "head_seq": _l("chain head sequence"),
}


def job_title(name: str) -> str:
    """A job's title in the reader's language; a job no longer defined keeps its stored code."""
    return str(JOB_TITLES.get(name, name))


def counts_list(counts: str | None) -> list[tuple[str, object]]:
    """A run's stored counts as (label, value) pairs in stored key order; text that is not a JSON object stays one
    item, so nothing stored is hidden."""
    if not counts:
        return []
    try:
        data = json.loads(counts)
    except ValueError:
        return [("", counts)]
    if not isinstance(data, dict):
        return [("", counts)]
    return [(str(COUNT_LABELS.get(key, key)), value) for key, value in data.items()]
