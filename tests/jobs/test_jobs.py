"""Scheduled jobs against the database: each boundary crossed with the clock, the change audited as the
scheduler, each slot run once (also under concurrency on PostgreSQL), failures recorded and shown, the
retained-sample disposal over HTTP, the CLI and the scheduler's configuration."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from lims.db import Actor, transaction
from lims.jobs import runner
from lims.jobs.models import JobRun, RetainedDisposal
from lims.manufacturing.models import Batch, Donation, DoseUnit
from tests.clinical.conftest import TODAY, UNITS, craft_unit, unit_row
from tests.clinical.test_ae_http import given_dose, record
from tests.conftest import audit_rows, page_text
from tests.manufacturing import flow
from tests.manufacturing.conftest import lab, local
from tests.manufacturing.flow import LOT, ok
from tests.manufacturing.pages import forbidden, refused

SYSTEM = "system (scheduler)"
US = timedelta(microseconds=1)
EXPIRED_REASON = "expiry or thaw window passed"


def counts(r: JobRun) -> dict:
    assert r is not None and r.outcome == "ok", r and r.error
    return json.loads(r.counts)


def job_runs(job: str) -> list[JobRun]:
    return flow.rows(JobRun, job=job)


def status_changes(app, entity: str, record_id: str) -> list[tuple]:
    return [
        (x.old_value, x.new_value, x.reason, x.user_name)
        for x in audit_rows(app, entity=entity, record_id=record_id, field="status", action="update")
    ]


def section(resp, sid: str) -> str:
    """The text of the home page's due-work section ``sid`` ('' when the page has none)."""
    html = " ".join(page_text(resp).split())
    if f'id="{sid}"' not in html:
        return ""
    part = html[html.index(f'id="{sid}"') :]
    return part[: part.index("</section>")]


# --- expiry --------------------------------------------------------------------------------------------


def test_unit_expires_at_its_expiry_instant_and_the_batch_when_all_units_did(app, clinic):
    t = lab(TODAY + timedelta(days=2), 12, 0)  # 04:00 UTC: a slot boundary
    craft_unit(UNITS[0], expires_at=t)

    r = runner.run("expire", t - US)
    assert r.slot == t - timedelta(minutes=15) and counts(r) == {"units_expired": 0, "batches_expired": 0}
    assert unit_row(UNITS[0]).status == "available"

    r = runner.run("expire", t)  # the next slot
    assert r.slot == t and counts(r) == {"units_expired": 1, "batches_expired": 0}
    assert unit_row(UNITS[0]).status == "expired"
    assert {unit_row(c).status for c in UNITS[1:]} == {"available"}
    assert status_changes(app, "dose_unit", UNITS[0])[-1] == ("available", "expired", EXPIRED_REASON, SYSTEM)
    assert flow.row(Batch, lot=LOT).status == "released"

    later = t + timedelta(hours=1)
    for code in UNITS[1:]:
        craft_unit(code, expires_at=later)
    assert counts(runner.run("expire", later)) == {"units_expired": len(UNITS) - 1, "batches_expired": 1}
    assert flow.row(Batch, lot=LOT).status == "expired"
    assert status_changes(app, "batch", LOT)[-1] == ("released", "expired", "every unit expired", SYSTEM)
    assert counts(runner.run("expire", later + timedelta(minutes=15))) == {"units_expired": 0, "batches_expired": 0}
    assert len([x for x in status_changes(app, "dose_unit", UNITS[0]) if x[1] == "expired"]) == 1


def test_thawed_unit_expires_six_hours_after_the_thaw_and_is_listed_to_discard(app, clinic):
    code = UNITS[1]
    thawed = lab(TODAY, 9, 59)  # thaw + 6 h and + 6 h 1 min fall in two slots (07:45 and 08:00 UTC)
    ok(clinic.tech.post(f"/units/{code}/thaw", {"thaw-thawed_at": local(TODAY, 9, 59)}, token_from=f"/units/{code}"))
    assert unit_row(code).thawed_at == thawed and unit_row(code).status == "available"
    assert code not in section(clinic.tech.get("/"), "due-thawed")

    assert counts(runner.run("expire", thawed + timedelta(hours=6)))["units_expired"] == 0
    assert unit_row(code).status == "available"
    r = runner.run("expire", thawed + timedelta(hours=6, minutes=1))
    assert counts(r)["units_expired"] == 1
    assert unit_row(code).status == "expired"
    assert status_changes(app, "dose_unit", code)[-1] == ("available", "expired", EXPIRED_REASON, SYSTEM)
    assert {unit_row(c).status for c in UNITS if c != code} == {"available"}

    clinic.at(TODAY, 16, 1)
    listed = section(clinic.tech.get("/"), "due-thawed")
    assert "Thawed units to discard" in listed and code in listed and "2026-11-25 09:59" in listed


def test_an_issued_unit_past_its_thaw_window_stays_with_its_dose_and_is_listed_to_discard_there(app, clinic):
    from tests.clinical.conftest import issue, plan, reserve

    ok(plan(clinic.nurse, "P-0001", TODAY))
    ok(reserve(clinic.nurse, "P-0001-C1-D1", UNITS[0]))
    ok(issue(clinic.tech, UNITS[0]))  # thawed at issue, 10:00
    assert runner.run("expire", lab(TODAY, 16, 15)) is not None
    assert unit_row(UNITS[0]).status == "issued"  # the job does not take a unit from the ward
    clinic.at(TODAY, 16, 20)
    listed = section(clinic.tech.get("/"), "due-thawed")
    assert UNITS[0] in listed and "issued for P-0001-C1-D1" in listed
    assert 'href="/courses/doses/P-0001-C1-D1"' in clinic.tech.get("/").get_data(as_text=True)


# --- donor eligibility ------------------------------------------------------------------------------------


def test_donor_due_for_rescreening_seven_days_ahead_and_expired_the_day_after(app, mfg, clock):
    from lims.donors.donation_day import can_donate
    from lims.donors.models import Donor

    until = flow.row(Donor, code="D-0001").status_until
    assert until is not None and until > TODAY + timedelta(days=8)

    def home_of_clinician(day):
        clock.set(lab(day, 10, 0))
        flow.relogin(mfg)
        return section(mfg.nurse.get("/"), "due-rescreen")

    listed = home_of_clinician(until - timedelta(days=8))
    assert "Donors due for re-screening" in listed and "D-0001" not in listed
    listed = home_of_clinician(until - timedelta(days=7))
    assert "D-0001" in listed and f"eligible until {until}" in listed

    assert counts(runner.run("donor_eligibility", lab(until, 0, 5))) == {"screening_expired": 0, "rescreen_due": 1}
    assert flow.row(Donor, code="D-0001").status == "eligible"

    r = runner.run("donor_eligibility", lab(until + timedelta(days=1), 0, 5))
    assert r.slot == lab(until + timedelta(days=1), 0, 0)
    assert counts(r) == {"screening_expired": 1, "rescreen_due": 0}
    donor = flow.row(Donor, code="D-0001")
    assert donor.status == "screening_expired"
    assert status_changes(app, "donor", "D-0001")[-1] == (
        "eligible",
        "screening_expired",
        f"eligibility ended on {until}: re-screening needed",
        SYSTEM,
    )
    assert runner.run("donor_eligibility", lab(until + timedelta(days=1), 23, 59)) is None  # same lab day

    with transaction(Actor(None, "t"), write=False) as s:
        allowed, why = can_donate(s, s.get(Donor, donor.id), until + timedelta(days=1))
    assert not allowed and "not eligible" in why
    listed = home_of_clinician(until + timedelta(days=1))
    assert "D-0001" in listed and f"screening expired on {until}" in listed


# --- SAE deadlines ----------------------------------------------------------------------------------------


def test_missed_sae_deadline_is_flagged_once_by_the_scheduler(app, clinic):
    from lims.clinical.ae_models import AdverseEvent

    given_dose(clinic)
    ok(
        record(
            clinic.nurse,
            grade="3",
            seriousness=["hospitalisation"],
            expected="no",
            attribution_fmt="unrelated",
            attribution_cotherapy="unlikely",
            aware_at=local(TODAY, 10, 59),
        )
    )
    aware = lab(TODAY, 10, 59)  # due 02:59 UTC: +24 h is in the 02:45 slot, +24 h 1 min in the 03:00 slot
    ae = flow.row(AdverseEvent, code="AE-0001")
    assert ae.ethics_due_at == aware + timedelta(hours=24) and ae.regulatory_due_at is None

    def flagged():
        return audit_rows(app, action="deadline_missed", entity="adverse_event", record_id="AE-0001")

    assert counts(runner.run("sae_deadlines", aware + timedelta(hours=24))) == {
        "missed": 0,
        "newly_flagged": 0,
        "due_within_24h": 1,
    }
    assert flagged() == []
    assert counts(runner.run("sae_deadlines", aware + timedelta(hours=24, minutes=1))) == {
        "missed": 1,
        "newly_flagged": 1,
        "due_within_24h": 0,
    }
    rows = flagged()
    assert [(x.field, x.user_name, x.reason) for x in rows] == [
        ("ethics", SYSTEM, "SAE report deadline passed unreported")
    ]
    assert counts(runner.run("sae_deadlines", aware + timedelta(hours=24, minutes=16))) == {
        "missed": 1,
        "newly_flagged": 0,
        "due_within_24h": 0,
    }
    assert len(flagged()) == 1


# --- exactly once ------------------------------------------------------------------------------------------


def test_a_slot_runs_once(app):
    now = datetime(2026, 11, 23, 2, 5, tzinfo=UTC)
    first = runner.run("quarantine_clearance", now)
    assert counts(first) == {"ready_for_review": 0} and first.slot == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert runner.run("quarantine_clearance", now + timedelta(minutes=50)) is None
    assert len(job_runs("quarantine_clearance")) == 1
    assert counts(runner.run("quarantine_clearance", now + timedelta(minutes=55)))  # the next hour's slot
    assert len(job_runs("quarantine_clearance")) == 2


def test_concurrent_runners_claim_a_slot_once(app, backend, request):
    if backend != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL deployment; SQLite serialises writers anyway")
    lab_ = request.getfixturevalue("mfg")
    flow.to_quarantine(lab_)
    codes = [u.code for u in flow.rows(DoseUnit, lot=LOT)]
    assert codes
    now = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    for code in codes:
        craft_unit(code, expires_at=now - timedelta(hours=1))

    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(runner.run("expire", now))
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and len(results) == 2
    done = [r for r in results if r is not None]
    assert len(done) == 1 and results.count(None) == 1
    assert counts(done[0]) == {"units_expired": len(codes), "batches_expired": 0}
    assert len(job_runs("expire")) == 1
    for code in codes:
        assert unit_row(code).status == "expired"
        assert [x for x in status_changes(app, "dose_unit", code) if x[1] == "expired"] == [
            ("quarantine", "expired", EXPIRED_REASON, SYSTEM)
        ]


# --- failures ------------------------------------------------------------------------------------------------


def test_a_run_left_running_by_a_dead_process_is_shown_to_qa_when_its_lease_expires(app, as_user, clock):
    with transaction(Actor(None, "test")) as s:
        s.add(
            JobRun(
                job="expire",
                slot=clock.now() - timedelta(hours=2),
                runner="gone:1:dead",
                started_at=clock.now() - timedelta(seconds=100),
                lease_until=clock.now() + timedelta(seconds=20),
            )
        )
    qa = as_user("qa8", roles=["qa"])
    assert "stalled" not in section(qa.get("/"), "due-failed-jobs")
    clock.advance(seconds=21)  # the lease expired: not an hour later
    stalled = section(qa.get("/"), "due-failed-jobs")
    assert "stalled" in stalled and "gone:1:dead" in stalled and "the next run takes it over" in stalled


def test_a_failing_job_is_recorded_and_shown_to_qa(app, as_user, monkeypatch, clock):
    from lims.jobs.tasks import JOBS, Job

    def boom(session, now, today):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(JOBS, "quarantine_clearance", Job("quarantine_clearance", boom, 60))
    r = runner.run("quarantine_clearance", clock.now())
    assert r.outcome == "failed" and r.error == "RuntimeError: disk on fire" and r.finished_at is not None
    assert [x.outcome for x in job_runs("quarantine_clearance")] == ["failed"]
    assert runner.run("quarantine_clearance", clock.now()) is None  # a failed slot is not retried by itself

    qa = as_user("qa9", roles=["qa"])
    failed = section(qa.get("/"), "due-failed-jobs")
    assert "quarantine_clearance" in failed and "RuntimeError: disk on fire" in failed
    page = " ".join(page_text(qa.get("/jobs/")).split())
    runs = page[page.index('id="job-runs"') :]
    assert "quarantine_clearance" in runs and "failed" in runs and "RuntimeError: disk on fire" in runs

    tech = as_user("tech9", roles=["technician"])
    assert section(tech.get("/"), "due-failed-jobs") == ""
    forbidden(tech.get("/jobs/"))


# --- retained samples -----------------------------------------------------------------------------------------


def test_retained_sample_is_disposed_of_only_after_its_keep_until_date(app, mfg, clock):
    ok(flow.receive(mfg))
    donation = flow.row(Donation, code=flow.DONATION)
    keep = donation.retained_until
    assert keep == date(2027, 5, 23)
    url = f"/jobs/retained/{flow.DONATION}"

    def dispose(on, method="autoclaved, clinical waste"):
        return mfg.tech.post(url, {"disposed_on": on.isoformat(), "method": method, "note": ""}, token_from="/")

    def due_list():
        return section(mfg.tech.get("/"), "due-retained")

    clock.set(lab(keep, 10, 0))
    flow.relogin(mfg)
    assert flow.DONATION not in due_list()
    assert counts(runner.run("retained_samples", clock.now())) == {"due_for_disposal": 0}
    assert mfg.tech.get(url).status_code == 200
    refused(dispose(keep), 422, f"The retained sample of {flow.DONATION} must be kept through {keep}.")
    refused(dispose(keep - timedelta(days=1)), 422, "must be kept through")
    refused(dispose(keep + timedelta(days=1)), 422, "The disposal date is in the future.")
    assert flow.rows(RetainedDisposal) == []

    day_after = keep + timedelta(days=1)
    clock.set(lab(day_after, 10, 0))
    flow.relogin(mfg)
    listed = due_list()
    assert (
        flow.DONATION in listed and f"kept until {keep}" in listed and url in mfg.tech.get("/").get_data(as_text=True)
    )
    assert counts(runner.run("retained_samples", clock.now())) == {"due_for_disposal": 1}
    r = dispose(day_after, method="")
    assert r.status_code == 400 and "Enter how the sample was disposed of." in page_text(r)
    assert flow.rows(RetainedDisposal) == []

    r = dispose(day_after)
    assert r.status_code == 302 and r.headers["Location"].endswith("/")
    [row] = flow.rows(RetainedDisposal)
    assert (row.donation_code, row.disposed_on, row.method) == (flow.DONATION, day_after, "autoclaved, clinical waste")
    inserted = audit_rows(app, entity="retained_disposal", record_id=f"{flow.DONATION}/RS-disposal")
    assert inserted and inserted[0].user_name == "Zhang Wei"
    assert flow.DONATION not in due_list()
    assert "Disposed of on" in page_text(mfg.tech.get(url))
    assert counts(runner.run("retained_samples", clock.now() + timedelta(days=1))) == {"due_for_disposal": 0}

    refused(dispose(day_after), 422, f"The retained sample of {flow.DONATION} was already disposed of.")
    assert len(flow.rows(RetainedDisposal)) == 1


# --- CLI and scheduler ------------------------------------------------------------------------------------------


def test_run_jobs_command(app, clock):
    cli = app.test_cli_runner()
    first = cli.invoke(args=["lims", "run-jobs", "--job", "expire"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("expire: ok") and "units_expired" in first.output
    second = cli.invoke(args=["lims", "run-jobs", "--job", "expire"])
    assert second.exit_code == 0 and second.output.strip() == "expire: already run for this slot"
    assert len(job_runs("expire")) == 1
    unknown = cli.invoke(args=["lims", "run-jobs", "--job", "nope"])
    assert unknown.exit_code == 2 and "unknown job 'nope'" in unknown.output
    assert len(flow.rows(JobRun)) == 1

    every = cli.invoke(args=["lims", "run-jobs"])
    assert every.exit_code == 0, every.output
    assert "expire: already run for this slot" in every.output
    for name in ("sae_deadlines", "quarantine_clearance", "donor_eligibility", "retained_samples", "audit_checkpoint"):
        assert re.search(rf"^{name}: ok", every.output, re.M), every.output


def test_scheduler_configuration(app):
    from zoneinfo import ZoneInfo

    from lims.jobs.rules import interval_slot
    from lims.jobs.tasks import JOBS

    sched = runner.build_scheduler(app)
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == set(JOBS) | {runner.SWEEP} and len(jobs) == 7
    assert jobs[runner.SWEEP].trigger.interval == timedelta(seconds=60)  # half the default lease of 120 s
    assert sched.timezone == ZoneInfo("Asia/Shanghai")
    for j in jobs.values():  # not started: the scheduler's job defaults apply when it starts
        effective = {k: getattr(j, k, sched._job_defaults.get(k)) for k in ("coalesce", "max_instances")}
        assert effective == {"coalesce": True, "max_instances": 1}, j.id
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 11, 23, 10, 7, 23, tzinfo=shanghai)
    for name, job in JOBS.items():
        fire = jobs[name].trigger.get_next_fire_time(None, now)
        if job.every_minutes:  # interval runs start on slot boundaries, so each run falls in its own slot
            assert fire.astimezone(UTC) == interval_slot(fire, job.every_minutes), name
            assert timedelta(0) < fire - now <= timedelta(minutes=job.every_minutes), name
        else:
            assert fire == datetime(2026, 11, 24, *job.at, tzinfo=shanghai), name


# --- audit checkpoint ----------------------------------------------------------------------------------


def test_daily_audit_checkpoint_verifies_the_trail_and_writes_its_head_outside_the_database(app, clock, make_user):
    from sqlalchemy import text

    from lims.audit import checkpoints
    from lims.audit.immutability import create_sql, drop_sql
    from lims.audit.keys import audit_key

    assert runner.JOBS["audit_checkpoint"].every_minutes is None  # daily, like the other daily jobs
    make_user("tech1")
    last = audit_rows(app)[-1]
    r = runner.run("audit_checkpoint", clock.now())
    assert counts(r) == {"rows_verified": last.id, "head_seq": last.id}
    (cp,) = checkpoints.read_store(audit_key())
    assert cp.valid and (cp.seq, cp.hash, cp.kind) == (last.id, last.hash, "checkpoint")
    assert cp.reason.startswith("daily job ")
    assert runner.run("audit_checkpoint", clock.now()) is None  # once per lab day

    engine = app.extensions["lims_db"].engine  # a row altered behind the application: the next day's run fails
    with engine.begin() as conn:
        for stmt in drop_sql(engine.dialect.name, "audit_entry"):
            conn.exec_driver_sql(stmt)
        conn.execute(text(f"UPDATE audit_entry SET reason = 'edited' WHERE id = {last.id}"))
        for stmt in create_sql(engine.dialect.name, "audit_entry"):
            conn.exec_driver_sql(stmt)
    failed = runner.run("audit_checkpoint", clock.now() + timedelta(days=1))
    assert failed.outcome == "failed" and f"audit trail broken at row {last.id}" in failed.error
    assert len(checkpoints.read_store(audit_key())) == 1  # no checkpoint of a broken trail
