"""Running a job once per slot: claim the slot as a lease, run in the scheduler's name, record the outcome.

The claim is an INSERT into job_run under a unique (job, slot) constraint, in its
own committed transaction: a second scheduler, a cron ``run-jobs`` or a re-run
of the same slot fails the insert and does nothing. The claim is a lease: the
row names its owner (``runner``, host:pid:random) and holds the slot until
``lease_until``. The work runs in batches, one transaction each, and every
batch first renews the lease and checks the owner (the fence: a runner that
lost its lease writes nothing); the outcome (counts or the error) is written in
the last batch's transaction, so a failure is recorded, never lost.

A runner that dies after claiming leaves its run "running" with a lease that is
no longer renewed. Once the lease has expired, the next run of the job (or the
scheduler's lease sweep) takes it over with one conditional UPDATE (``WHERE
outcome = 'running' AND lease_until < now``: of two takers exactly one matches)
and does the rest of the work: the jobs work from the current state, so what
the dead runner committed is not done again (docs/jobs.md "Leases").
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import select

from ..clock import utcnow
from ..db import Actor, transaction
from ..timefmt import lab_zone, to_lab
from . import rules
from .models import MAX_TAKEOVERS, JobRun
from .tasks import JOBS, Job

log = logging.getLogger("lims.jobs")
SYSTEM = Actor(None, "system (scheduler)", "scheduler")
_T = JobRun.__table__.c


class LeaseLost(Exception):
    """Another runner took the run over after this one's lease expired: this one stops without writing."""


def lease_seconds() -> int:
    return max(int(current_app.config.get("JOB_LEASE_SECONDS", 120)), 1)


def batch_size() -> int:
    return max(int(current_app.config.get("JOB_BATCH_SIZE", 100)), 1)


def owner_token() -> str:
    """host:pid:random, unique per run (the same process's next tick is another owner)."""
    return f"{socket.gethostname()[:96]}:{os.getpid()}:{secrets.token_hex(4)}"


def slot_of(job: Job, now: datetime) -> datetime:
    return rules.interval_slot(now, job.every_minutes) if job.every_minutes else rules.daily_slot(now, lab_zone())


def _claim(name: str, slot: datetime, token: str) -> int | None:
    at = utcnow()
    try:
        with transaction(SYSTEM) as s:
            claim = JobRun(
                job=name,
                slot=slot,
                runner=token,
                started_at=at,
                heartbeat_at=at,
                lease_until=at + timedelta(seconds=lease_seconds()),
            )
            s.add(claim)
            s.flush()
            return claim.id
    except IntegrityError:
        return None


def _renew(s, run_id: int, token: str, **values) -> None:
    """The heartbeat and fence, in the caller's transaction: renew the lease if ``token`` still owns the run.

    On PostgreSQL the UPDATE also locks the row until the transaction ends, so a taker waits for the batch and
    then sees the renewed lease; SQLite serialises writers anyway."""
    at = utcnow()
    res = s.connection().execute(
        update(JobRun.__table__)
        .where(_T.id == run_id, _T.runner == token, _T.outcome == "running")
        .values(lease_until=at + timedelta(seconds=lease_seconds()), heartbeat_at=at, **values)
    )
    if res.rowcount != 1:
        raise LeaseLost(f"job run {run_id} is no longer owned by {token}")


def heartbeat(run_id: int, token: str) -> bool:
    """Renew the lease of run ``run_id`` in a transaction of its own; False when ``token`` lost it."""
    try:
        with transaction(SYSTEM) as s:
            _renew(s, run_id, token)
        return True
    except LeaseLost:
        return False


def take_over(run_id: int, token: str) -> bool:
    """Become the owner of a running run whose lease expired; of concurrent takers exactly one gets True."""
    at = utcnow()
    try:
        with transaction(SYSTEM) as s:
            res = s.connection().execute(
                update(JobRun.__table__)
                .where(_T.id == run_id, _T.outcome == "running", _T.lease_until < at, _T.takeovers < MAX_TAKEOVERS)
                .values(
                    runner=token,
                    taken_over_from=_T.runner,
                    taken_over_at=at,
                    takeovers=_T.takeovers + 1,
                    heartbeat_at=at,
                    lease_until=at + timedelta(seconds=lease_seconds()),
                )
            )
            won = res.rowcount == 1
    except OperationalError:  # SQLite: a long batch of the live owner holds the write lock; the lease is not ours
        log.warning("job run %s: takeover attempt failed", run_id, exc_info=True)
        return False
    if won:
        log.warning("job run %s: lease expired, taken over by %s", run_id, token)
    return won


def _add(total: dict, more: dict) -> dict:
    out = dict(total)
    for k, v in more.items():
        out[k] = out.get(k, 0) + v if isinstance(v, (int, float)) and isinstance(out.get(k, 0), (int, float)) else v
    return out


def _execute(job: Job, run_id: int, token: str, now: datetime) -> JobRun | None:
    """Do the work of a run this runner owns, batch by batch, each batch fenced by the lease; None if lost."""
    today = to_lab(now).date()
    with transaction(SYSTEM, write=False) as s:
        stored = s.get(JobRun, run_id).counts
    done = json.loads(stored) if stored else {}  # the batches an earlier owner committed before it died
    try:
        try:
            while True:
                with transaction(SYSTEM) as s:
                    _renew(s, run_id, token)
                    if job.step is not None:
                        counts, more = job.step(s, now, today, batch_size())
                    else:
                        counts, more = job.run(s, now, today), False
                    done = _add(done, counts)
                    final = {"outcome": "ok", "finished_at": utcnow()} if not more else {}
                    _renew(s, run_id, token, counts=json.dumps(done, sort_keys=True), **final)
                if not more:
                    break
        except LeaseLost:
            raise
        except Exception as err:  # recorded and shown on the dashboard; the scheduler keeps running
            log.exception("job %s failed", job.name)
            with transaction(SYSTEM) as s:
                _renew(
                    s,
                    run_id,
                    token,
                    outcome="failed",
                    finished_at=utcnow(),
                    error=f"{type(err).__name__}: {err}"[:4000],
                    counts=json.dumps(done, sort_keys=True),
                )
    except LeaseLost:
        log.warning("job %s run %s: lease lost to another runner; stopped", job.name, run_id)
        return None
    with transaction(SYSTEM, write=False) as s:
        return s.get(JobRun, run_id)


def take_over_expired(name: str, now: datetime | None = None) -> list[JobRun]:
    """Take over and finish every run of ``name`` whose lease expired (its runner died); the runs finished."""
    at = utcnow()
    with transaction(SYSTEM, write=False) as s:
        ids = list(
            s.exec(
                select(JobRun.id)
                .where(
                    JobRun.job == name,
                    JobRun.outcome == "running",
                    JobRun.lease_until < at,
                    JobRun.takeovers < MAX_TAKEOVERS,
                )
                .order_by(JobRun.id)
            ).all()
        )
    out = []
    for run_id in ids:
        token = owner_token()
        if take_over(run_id, token):
            r = _execute(JOBS[name], run_id, token, now or utcnow())
            if r is not None:
                out.append(r)
    return out


def sweep() -> list[JobRun]:
    """The scheduler's lease sweep: take over the expired runs of every job (a daily job's too, before its next day)."""
    return [r for name in JOBS for r in take_over_expired(name)]


def run(name: str, now: datetime | None = None) -> JobRun | None:
    """Run ``name`` for the slot ``now`` falls in; None when that slot is held by a live lease or was run.

    Runs of the job left by a dead runner (lease expired) are taken over and finished first."""
    job = JOBS[name]
    now = now or utcnow()
    slot = slot_of(job, now)
    taken = take_over_expired(name, now)
    token = owner_token()
    run_id = _claim(name, slot, token)
    if run_id is None:
        mine = [r for r in taken if r.slot == slot]
        if mine:
            return mine[0]
        log.info("job %s slot %s already claimed", name, slot.isoformat())
        return None
    return _execute(job, run_id, token, now)


def run_all(now: datetime | None = None) -> list[tuple[str, JobRun | None]]:
    return [(name, run(name, now)) for name in JOBS]


def latest_runs(session, limit: int = 50) -> list[JobRun]:
    from sqlmodel import select

    return list(session.exec(select(JobRun).order_by(JobRun.id.desc()).limit(limit)).all())


def build_scheduler(app):
    """An APScheduler 3 BlockingScheduler in the lab's zone: coalescing, one instance of each job at a time."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    with app.app_context():
        zone = lab_zone()
    sched = BlockingScheduler(
        timezone=zone, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600}
    )

    def call(name):
        with app.app_context():
            run(name)

    # Interval runs start on slot boundaries (UTC-aligned, as rules.interval_slot): a run started just
    # after one boundary would otherwise let a late run and the next one fall in the same slot (one skipped).
    aligned = datetime(2000, 1, 1, tzinfo=UTC)
    for job in JOBS.values():
        trigger = (
            IntervalTrigger(minutes=job.every_minutes, start_date=aligned, timezone=zone)
            if job.every_minutes
            else CronTrigger(hour=job.at[0], minute=job.at[1], timezone=zone)
        )
        sched.add_job(call, trigger, args=[job.name], id=job.name, name=job.name)

    def call_sweep():
        with app.app_context():
            sweep()

    # Expired leases are taken over within about half a lease, not only at the job's next slot.
    with app.app_context():
        every = max(lease_seconds() // 2, 10)
    sched.add_job(call_sweep, IntervalTrigger(seconds=every, timezone=zone), id=SWEEP, name=SWEEP)
    return sched


SWEEP = "lease_sweep"
