"""Bulk export: every batch report of a production-date range as one ZIP, built in a background thread.

Each report is rendered in its own read-only transaction (no write lock is held
while ReportLab works); the progress row and the audit rows are short writes of
their own. The ZIP is written beside the database (instance/exports) and
offered for download when complete.
"""

from __future__ import annotations

import threading
import zipfile
from datetime import date
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlmodel import select

from ..audit.trail import audit_event
from ..clock import utcnow
from ..db import Actor, transaction
from ..errors import RuleViolation
from ..manufacturing.models import Batch
from . import batch_report
from .models import ReportExport

MAX_DAYS = 366


def export_dir() -> Path:
    from config import INSTANCE_DIR

    d = Path(current_app.config.get("EXPORT_DIR") or INSTANCE_DIR / "exports")
    d.mkdir(parents=True, exist_ok=True)
    return d


def lots_between(session, from_day: date, to_day: date) -> list[str]:
    return list(
        session.exec(
            select(Batch.lot)
            .where(Batch.production_day >= from_day, Batch.production_day <= to_day)
            .order_by(Batch.production_day, Batch.lot)
        ).all()
    )


def request_export(session, user, from_day: date | None, to_day: date | None, language: str) -> ReportExport:
    if from_day is None or to_day is None:
        raise RuleViolation(_("Enter both dates."))
    if to_day < from_day:
        raise RuleViolation(_("The end date is before the start date."))
    if (to_day - from_day).days >= MAX_DAYS:
        raise RuleViolation(_("Export at most %(n)s days at a time.", n=MAX_DAYS))
    total = len(lots_between(session, from_day, to_day))
    if total == 0:
        raise RuleViolation(_("No batch was produced between %(a)s and %(b)s.", a=from_day, b=to_day))
    job = ReportExport(
        requested_by_id=user.id,
        requested_by=user.full_name,
        language=language,
        from_day=from_day,
        to_day=to_day,
        total=total,
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    return job


def start(app, job_id: int) -> threading.Thread:
    t = threading.Thread(target=run, args=(app, job_id), name=f"report-export-{job_id}", daemon=True)
    t.start()
    return t


def run(app, job_id: int) -> None:
    """Render every report of the job into its ZIP; progress after each report, audit rows at the end."""
    with app.app_context():
        actor = Actor(None, "report export", "export")
        with transaction(actor) as s:
            job = s.get(ReportExport, job_id)
            job.status = "running"
            user_id, user_name, language = job.requested_by_id, job.requested_by, job.language
            from_day, to_day = job.from_day, job.to_day
        actor = Actor(user_id, user_name, "export")
        printed = []
        name = f"batch-reports-{from_day}-{to_day}-{job_id}.zip"
        path = export_dir() / name
        try:
            with (
                app.test_request_context(),
                force_locale(language),
                zipfile.ZipFile(path.with_suffix(".part"), "w", zipfile.ZIP_DEFLATED) as zf,
            ):
                with transaction(actor, write=False) as s:
                    lots = lots_between(s, from_day, to_day)
                for n, lot in enumerate(lots, start=1):
                    with transaction(actor, write=False) as s:
                        batch = s.exec(select(Batch).where(Batch.lot == lot)).one()
                        data = batch_report.collect(s, batch)
                        version = batch_report.doc_version(data)
                        pdf = batch_report.build(data, user_name, utcnow())
                    zf.writestr(f"{lot}.pdf", pdf)
                    printed.append((lot, version))
                    with transaction(actor) as s:
                        s.get(ReportExport, job_id).done = n
            path.with_suffix(".part").rename(path)
            with transaction(actor) as s:
                for lot, version in printed:
                    audit_event(s, "report", "batch", lot, new=version, reason=f"batch report, bulk export #{job_id}")
                job = s.get(ReportExport, job_id)
                job.status, job.file_name, job.finished_at = "done", name, utcnow()
        except Exception as err:  # the page must say the export failed, not spin for ever
            path.with_suffix(".part").unlink(missing_ok=True)
            with transaction(actor) as s:
                job = s.get(ReportExport, job_id)
                job.status, job.error, job.finished_at = "failed", repr(err)[:2000], utcnow()
            raise
