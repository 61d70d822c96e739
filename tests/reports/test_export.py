"""Bulk export of batch reports: a background job with progress, a ZIP of PDFs, each report audited."""

from __future__ import annotations

import io
import time
import zipfile

from pypdf import PdfReader

from lims.reports.models import ReportExport
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT
from tests.manufacturing.pages import refused


def wait_done(export_id: int, seconds: float = 60) -> ReportExport:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = flow.row(ReportExport, id=export_id)
        if job.status in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("the export did not finish")


def test_export_of_a_date_range_is_a_zip_of_batch_reports_with_progress(app, mfg):
    flow.to_quarantine(mfg)
    r = mfg.qa.post(
        "/reports/exports", {"from_day": "2026-11-01", "to_day": "2026-11-30"}, token_from="/reports/exports"
    )
    assert r.status_code == 302
    export_id = int(r.headers["Location"].rsplit("/", 1)[1])
    job = wait_done(export_id)
    assert (job.status, job.done, job.total) == ("done", 1, 1), job.error
    page = page_text(mfg.qa.get(f"/reports/exports/{export_id}"))
    assert "1 of 1 reports" in page and "Download the ZIP" in page
    z = zipfile.ZipFile(io.BytesIO(mfg.qa.get(f"/reports/exports/{export_id}/download").data))
    assert z.namelist() == [f"{LOT}.pdf"]
    first = PdfReader(io.BytesIO(z.read(f"{LOT}.pdf"))).pages[0].extract_text()
    assert f"Batch record report · {LOT}" in first and "NOT RELEASED" in first
    rows = [r for r in audit_rows(app, action="report") if r.record_id == LOT]
    assert [(r.reason, r.user_name) for r in rows] == [(f"batch report, bulk export #{export_id}", "Li Na")]
    assert rows[0].new_value.startswith("FMT-BR rev 1 · record version")


def test_bad_ranges_are_refused_and_nothing_is_queued(app, mfg):
    flow.to_quarantine(mfg)
    for data, message in [
        ({"from_day": "2026-11-30", "to_day": "2026-11-01"}, "The end date is before the start date."),
        (
            {"from_day": "2025-01-01", "to_day": "2025-01-31"},
            "No batch was produced between 2025-01-01 and 2025-01-31.",
        ),
        ({"from_day": "2024-01-01", "to_day": "2026-11-30"}, "Export at most 366 days at a time."),
    ]:
        refused(mfg.qa.post("/reports/exports", data, token_from="/reports/exports"), 422, message)
    assert flow.rows(ReportExport) == []
    assert mfg.tech.get("/reports/exports").status_code == 403
