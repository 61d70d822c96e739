"""Running a job once per slot: claim the slot, run in the scheduler's name, record the outcome.

The claim is an INSERT into job_run under a unique (job, slot) constraint, in its
own committed transaction: a second scheduler, a cron ``run-jobs`` or a re-run of
the same slot fails the insert and does nothing. The job's work is a second
transaction; its outcome (counts or the error) a third, so a failure is recorded,
never lost.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime, timezone

from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..db import Actor, transaction
from ..timefmt import lab_zone, to_lab
from . import rules
from .models import JobRun
from .tasks import JOBS, Job

log = logging.getLogger("lims.jobs")
SYSTEM = Actor(None, "system (scheduler)", "scheduler")


def slot_of(job: Job, now: datetime) -> datetime:
    return rules.interval_slot(now, job.every_minutes) if job.every_minutes else rules.daily_slot(now, lab_zone())


def run(name: str, now: datetime | None = None) -> JobRun | None:
    """Run ``name`` for the slot ``now`` falls in; None when that slot was already claimed."""
    job = JOBS[name]
    now = now or utcnow()
    slot = slot_of(job, now)
    try:
        with transaction(SYSTEM) as s:
            claim = JobRun(job=name, slot=slot, runner=f"{socket.gethostname()}:{os.getpid()}", started_at=utcnow())
            s.add(claim)
            s.flush()
            run_id = claim.id
    except IntegrityError:
        log.info("job %s slot %s already claimed", name, slot.isoformat())
        return None
    try:
        with transaction(SYSTEM) as s:
            counts = job.run(s, now, to_lab(now).date())
        outcome, error = "ok", None
    except Exception as err:  # recorded and shown on the dashboard; the scheduler keeps running
        log.exception("job %s failed", name)
        counts, outcome, error = {}, "failed", f"{type(err).__name__}: {err}"[:4000]
    with transaction(SYSTEM) as s:
        row = s.get(JobRun, run_id)
        row.outcome, row.finished_at, row.error = outcome, utcnow(), error
        row.counts = json.dumps(counts, sort_keys=True)
    with transaction(SYSTEM, write=False) as s:
        return s.get(JobRun, run_id)


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
    sched = BlockingScheduler(timezone=zone, job_defaults={"coalesce": True, "max_instances": 1,
                                                           "misfire_grace_time": 600})

    def call(name):
        with app.app_context():
            run(name)

    # Interval runs start on slot boundaries (UTC-aligned, as rules.interval_slot): a run started just
    # after one boundary would otherwise let a late run and the next one fall in the same slot (one skipped).
    aligned = datetime(2000, 1, 1, tzinfo=timezone.utc)
    for job in JOBS.values():
        trigger = (IntervalTrigger(minutes=job.every_minutes, start_date=aligned, timezone=zone) if job.every_minutes
                   else CronTrigger(hour=job.at[0], minute=job.at[1], timezone=zone))
        sched.add_job(call, trigger, args=[job.name], id=job.name, name=job.name)
    return sched
