"""The home page's due work, by role: what each person should do next, each item linking to its record."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import select

from . import tasks
from .models import JobRun

LAB = ("technician", "qa", "admin")
QA = ("qa", "admin")
CLINICAL = ("clinician", "qa", "admin")


def attention_runs(session, now: datetime, days: int = 7) -> list[JobRun]:
    """Runs of the last ``days`` QA should look at: failed; stalled (still "running" past its lease: its process
    died or hangs, listed from the moment the lease expired); or taken over after such a stall."""
    stalled = (JobRun.outcome == "running") & (JobRun.lease_until < now)
    return list(
        session.exec(
            select(JobRun)
            .where(
                (JobRun.outcome == "failed") | stalled | (JobRun.takeovers > 0),
                JobRun.started_at >= now - timedelta(days=days),
            )
            .order_by(JobRun.id.desc())
            .limit(20)
        ).all()
    )


def due_work(session, roles: set[str], now: datetime, today: date) -> dict:
    out: dict = {}
    if roles & set(LAB):
        out["expiring"] = tasks.expiring_units(session, now, today)
        out["expired"] = tasks.expired_in_stock(session, now)
        out["thawed"] = tasks.thawed_to_discard(session, now)
        out["retained"] = tasks.retained_due(session, today)
    if roles & set(QA):
        from ..lookback.cases import is_overdue, open_cases

        out["lookback"] = [(c, is_overdue(c, now)) for c in open_cases(session)]
        out["review"] = tasks.ready_for_review(session)
        out["deviations"] = tasks.open_deviations(session)
        out["failed_jobs"] = attention_runs(session, now)
    if roles & set(CLINICAL):
        out["rescreen"] = tasks.rescreen_due(session, today)
        out["sae"] = tasks.sae_reports(session, now)
    return out
