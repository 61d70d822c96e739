"""/jobs/ in the reader's language: job titles instead of code names, counts as a labelled list, not JSON.

The job's code (what ``lims run-jobs`` takes) stays on the page as a literal; the counts keep the stored JSON.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from lims.db import Actor, transaction
from lims.jobs.models import JobRun
from tests.conftest import page_text


def _runs_text(resp) -> str:
    """The visible text of the runs table, without the literal identifiers in <code> elements."""
    html = page_text(resp)
    html = html[html.index('id="job-runs"') :]
    html = re.sub(r"<code\b.*?</code>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _a_finished_run(clock):
    with transaction(Actor(None, "test")) as s:
        s.add(
            JobRun(
                job="expire",
                slot=clock.now() - timedelta(hours=1),
                runner="host:1:abc",
                outcome="ok",
                started_at=clock.now() - timedelta(minutes=59),
                finished_at=clock.now() - timedelta(minutes=58),
                lease_until=clock.now(),
                counts=json.dumps({"batches_expired": 1, "units_expired": 12}),
            )
        )


def test_a_run_shows_its_job_title_and_labelled_counts_in_chinese(app, as_user, clock):
    _a_finished_run(clock)
    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    runs = _runs_text(zh.get("/jobs/"))
    assert "单位及批次过期" in runs and "过期单位：12" in runs and "过期批次：1" in runs
    for raw in ("expire", "units_expired", "{", "}"):
        assert raw not in runs, raw
    assert '<code class="muted">expire</code>' in page_text(zh.get("/jobs/"))  # the name the command line takes


def test_the_job_table_and_home_list_name_jobs_by_title(app, as_user, clock):
    with transaction(Actor(None, "test")) as s:
        s.add(
            JobRun(
                job="quarantine_clearance",
                slot=clock.now() - timedelta(hours=1),
                runner="host:1:abc",
                outcome="failed",
                error="RuntimeError: disk on fire",
                started_at=clock.now(),
                finished_at=clock.now(),
                lease_until=clock.now(),
            )
        )
    zh = as_user("qa_zh", roles=["qa"], language="zh_CN")
    page = page_text(zh.get("/jobs/"))
    jobs_table = " ".join(
        re.sub(
            r"<[^>]+>", " ", re.sub(r"<code\b.*?</code>", " ", page[: page.index('id="job-runs"')], flags=re.S)
        ).split()
    )
    assert "隔离批次审核" in jobs_table and "quarantine_clearance" not in jobs_table
    home = page_text(zh.get("/"))
    failed = home[home.index('id="due-failed-jobs"') :]
    failed = failed[: failed.index("</section>")]
    assert "隔离批次审核" in failed


def test_english_keeps_the_titles_in_english_and_unknown_count_keys_as_stored(app, as_user, clock):
    _a_finished_run(clock)
    with transaction(Actor(None, "test")) as s:
        s.add(
            JobRun(
                job="retired_job",
                slot=clock.now() - timedelta(hours=3),
                runner="host:1:abc",
                outcome="ok",
                started_at=clock.now(),
                finished_at=clock.now(),
                lease_until=clock.now(),
                counts=json.dumps({"something_new": 3}),
            )
        )
    en = as_user("qa_en", roles=["qa"], language="en")
    runs = _runs_text(en.get("/jobs/"))
    assert "Expiry of units and batches" in runs and "units expired: 12" in runs
    assert "something_new: 3" in runs and "retired_job" in page_text(en.get("/jobs/"))


def test_the_scheduler_commands_are_printed_as_literal_code_in_both_languages(app, as_user):
    for username, language in (("qa_zh", "zh_CN"), ("qa_en", "en")):
        page = as_user(username, roles=["qa"], language=language).get("/jobs/").get_data(as_text=True)
        assert "<code>flask --app wsgi lims scheduler</code>" in page and "<code>lims run-jobs</code>" in page
        assert "&lt;code&gt;" not in page
