"""Job-run leases (issue 16, "Concurrency and faults"), on SQLite and PostgreSQL with the movable clock.

A scheduler "killed" after claiming its slot is simulated by a job step that raises a BaseException the
runner does not catch (the process is gone: the claim is committed, nothing after it runs). Its run stays
"running" with a lease nobody renews; once the lease expires, the next run takes it over once and does the
work: every due unit expired exactly once (one audit row each), counted over the dead runner's batches
and the taker's. Before the lease expires nobody takes it over; the heartbeat extends it; of two takers
behind a barrier exactly one wins; the dashboard shows the stalled run at lease expiry.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, timedelta

import pytest
from sqlalchemy import update

from lims.db import Actor, transaction
from lims.jobs import runner
from lims.jobs.models import JobRun
from lims.jobs.tasks import JOBS
from lims.manufacturing.models import Batch
from lims.timefmt import format_dt
from tests.clinical.conftest import UNITS, craft_unit, unit_row
from tests.conftest import page_text
from tests.jobs.test_jobs import EXPIRED_REASON, SYSTEM, job_runs, section, status_changes
from tests.manufacturing import flow
from tests.manufacturing.flow import LOT

LEASE = timedelta(seconds=120)  # the default LIMS_JOB_LEASE_SECONDS
S = timedelta(seconds=1)
STALLED = "its process stopped; the next run takes it over"


class Killed(BaseException):
    """The scheduler process is killed: nothing after this point runs (not caught as a job failure)."""


def _due(clock) -> None:
    for code in UNITS:
        craft_unit(code, expires_at=clock.now() - timedelta(minutes=1))


def _kill_after(monkeypatch, batches: int) -> None:
    """The ``expire`` job's process dies when it starts its batch number ``batches + 1``."""
    job = JOBS["expire"]
    calls = []

    def step(s, now, today, limit):
        calls.append(1)
        if len(calls) > batches:
            raise Killed()
        return job.step(s, now, today, limit)

    monkeypatch.setitem(JOBS, "expire", dataclasses.replace(job, step=step))


def _killed_run(app, monkeypatch, clock, batches: int = 0) -> JobRun:
    """Claim the ``expire`` slot and die after ``batches`` committed batches; the run left behind."""
    with monkeypatch.context() as m:
        _kill_after(m, batches)
        with pytest.raises(Killed):
            runner.run("expire", clock.now())
    [r] = job_runs("expire")
    assert r.outcome == "running" and r.finished_at is None and r.takeovers == 0
    assert r.lease_until == r.started_at + LEASE
    return r


def expired_rows(app, code) -> list[tuple]:
    return [x for x in status_changes(app, "dose_unit", code) if x[1] == "expired"]


def assert_each_unit_expired_once(app) -> None:
    for code in UNITS:
        assert unit_row(code).status == "expired"
        assert expired_rows(app, code) == [("available", "expired", EXPIRED_REASON, SYSTEM)], code
    assert [x for x in status_changes(app, "batch", LOT) if x[1] == "expired"] == [
        ("released", "expired", "every unit expired", SYSTEM)
    ]


def test_a_killed_run_is_taken_over_once_its_lease_expires_and_its_units_expired_once(app, clinic, clock, monkeypatch):
    _due(clock)
    when = clock.now()  # every call runs the same slot
    dead = _killed_run(app, monkeypatch, clock)
    assert {unit_row(c).status for c in UNITS} == {"available"} and dead.counts is None

    clock.advance(seconds=119)  # the lease still holds: nobody takes the run over
    assert runner.run("expire", when) is None and runner.sweep() == []
    [r] = job_runs("expire")
    assert (r.outcome, r.runner, r.takeovers) == ("running", dead.runner, 0)
    assert all(expired_rows(app, c) == [] for c in UNITS)

    clock.advance(seconds=2)  # 121 s after the claim: the lease expired
    r = runner.run("expire", when)
    assert r.id == dead.id and r.outcome == "ok" and r.slot == dead.slot
    assert (r.takeovers, r.taken_over_from, r.taken_over_at) == (1, dead.runner, clock.now())
    assert r.runner != dead.runner
    assert json.loads(r.counts) == {"units_expired": len(UNITS), "batches_expired": 1}
    assert len(job_runs("expire")) == 1
    assert_each_unit_expired_once(app)

    clock.advance(minutes=5)  # a later run of the slot, and the sweep, find nothing to take over or do
    assert runner.run("expire", when) is None and runner.sweep() == []
    assert_each_unit_expired_once(app)
    assert [x.takeovers for x in job_runs("expire")] == [1]


def test_a_run_killed_between_batches_is_continued_without_redoing_its_units(app, clinic, clock, monkeypatch):
    app.config["JOB_BATCH_SIZE"] = 2
    _due(clock)
    when = clock.now()
    dead = _killed_run(app, monkeypatch, clock, batches=1)  # one batch of 2 units committed, then killed
    assert json.loads(dead.counts) == {"units_expired": 2, "batches_expired": 0}
    assert [unit_row(c).status for c in UNITS] == ["expired"] * 2 + ["available"] * (len(UNITS) - 2)

    clock.advance(seconds=121)
    r = runner.sweep()  # the scheduler's sweep takes it over (a daily job's run too, before its next day)
    assert [(x.id, x.outcome, x.takeovers) for x in r] == [(dead.id, "ok", 1)]
    assert json.loads(r[0].counts) == {"units_expired": len(UNITS), "batches_expired": 1}
    assert_each_unit_expired_once(app)
    assert flow.row(Batch, lot=LOT).status == "expired"
    assert runner.run("expire", when) is None


def test_the_next_slot_takes_over_the_dead_run_of_an_earlier_slot(app, clinic, clock, monkeypatch):
    _due(clock)
    dead = _killed_run(app, monkeypatch, clock)
    clock.advance(minutes=15)  # the next tick of the scheduler: another slot
    r = runner.run("expire", clock.now())
    assert r.slot == dead.slot + timedelta(minutes=15) and json.loads(r.counts) == {
        "units_expired": 0,
        "batches_expired": 0,
    }
    old = flow.row(JobRun, id=dead.id)
    assert (old.outcome, old.takeovers) == ("ok", 1)
    assert json.loads(old.counts) == {"units_expired": len(UNITS), "batches_expired": 1}
    assert_each_unit_expired_once(app)


def test_the_heartbeat_extends_the_lease_and_a_lost_lease_cannot_be_renewed(app, clinic, clock, monkeypatch):
    _due(clock)
    when = clock.now()
    dead = _killed_run(app, monkeypatch, clock)
    clock.advance(seconds=100)
    assert runner.heartbeat(dead.id, dead.runner)  # the owner is alive after all
    assert runner.heartbeat(dead.id, "someone:else:1") is False
    r = flow.row(JobRun, id=dead.id)
    assert (r.lease_until, r.heartbeat_at) == (clock.now() + LEASE, clock.now())

    clock.advance(seconds=100)  # 200 s after the claim: past the first lease, within the renewed one
    assert runner.run("expire", when) is None and runner.sweep() == []
    assert flow.row(JobRun, id=dead.id).takeovers == 0
    assert all(expired_rows(app, c) == [] for c in UNITS)

    clock.advance(seconds=21)  # the renewed lease expired
    assert runner.run("expire", when).takeovers == 1
    assert runner.heartbeat(dead.id, dead.runner) is False  # the old owner is fenced off: it lost the run
    assert_each_unit_expired_once(app)


def test_a_long_run_renews_its_lease_at_every_batch(app, clinic, clock, monkeypatch):
    app.config["JOB_BATCH_SIZE"] = 1
    _due(clock)
    job = JOBS["expire"]
    seen = []

    def slow(s, now, today, limit):  # each batch takes 100 s: the whole run far longer than one lease
        from sqlmodel import select

        seen.append(s.exec(select(JobRun.lease_until, JobRun.takeovers)).one())
        clock.advance(seconds=100)
        return job.step(s, now, today, limit)

    monkeypatch.setitem(JOBS, "expire", dataclasses.replace(job, step=slow))
    start = clock.now()
    r = runner.run("expire", start)
    assert r.outcome == "ok" and r.takeovers == 0 and len(seen) == len(UNITS) + 1
    assert [lease for lease, _ in seen] == [start + LEASE + timedelta(seconds=100 * i) for i in range(len(seen))]
    assert r.lease_until == clock.now() + LEASE
    assert_each_unit_expired_once(app)


def _race(app, fn, n: int = 2) -> list:
    barrier = threading.Barrier(n)
    out, errors = [None] * n, []

    def go(i):
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                out[i] = fn(i)
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and not any(t.is_alive() for t in threads), errors
    return out


def test_two_takers_at_the_same_instant_exactly_one_wins(app, clinic, clock, monkeypatch):
    _due(clock)
    dead = _killed_run(app, monkeypatch, clock)
    for rep in range(10):
        with transaction(Actor(None, "test")) as s:  # the run's owner died again
            s.connection().execute(
                update(JobRun.__table__)
                .where(JobRun.__table__.c.id == dead.id)
                .values(lease_until=clock.now() - S, takeovers=0, runner=f"dead:{rep}")
            )
        won = _race(app, lambda i: runner.take_over(dead.id, f"taker:{rep}:{i}"))
        assert sorted(won) == [False, True], rep
        r = flow.row(JobRun, id=dead.id)
        assert (r.runner, r.taken_over_from, r.takeovers) == (f"taker:{rep}:{won.index(True)}", f"dead:{rep}", 1)
        assert r.lease_until == clock.now() + LEASE
    assert all(expired_rows(app, c) == [] for c in UNITS)  # taking over is not working


def test_two_schedulers_finding_the_expired_lease_do_the_work_once(app, clinic, clock, monkeypatch):
    _due(clock)
    when = clock.now()
    dead = _killed_run(app, monkeypatch, clock)
    clock.advance(seconds=121)
    results = _race(app, lambda i: runner.run("expire", when))
    done = [r for r in results if r is not None]
    assert len(done) == 1 and results.count(None) == 1
    assert (done[0].id, done[0].takeovers) == (dead.id, 1)
    assert json.loads(done[0].counts) == {"units_expired": len(UNITS), "batches_expired": 1}
    assert len(job_runs("expire")) == 1
    assert_each_unit_expired_once(app)


def test_the_dashboard_shows_a_stalled_run_at_lease_expiry_and_its_takeover(app, clinic, clock, monkeypatch, as_user):
    _due(clock)
    when = clock.now()
    dead = _killed_run(app, monkeypatch, clock)
    qa = as_user("qa7", roles=["qa"])

    def runs_page():
        page = " ".join(page_text(qa.get("/jobs/")).split())
        return page[page.index('id="job-runs"') :]

    clock.advance(seconds=119)
    assert section(qa.get("/"), "due-failed-jobs") == "" and STALLED not in runs_page()
    assert "running" in runs_page()

    clock.advance(seconds=2)  # at lease expiry, not an hour later
    home = section(qa.get("/"), "due-failed-jobs")
    assert "expire" in home and STALLED in home and dead.runner in home
    assert STALLED in runs_page() and "running" not in runs_page()

    taker = runner.run("expire", when)
    note = f"lease expired - taken over at {format_dt(clock.now())} from {dead.runner}"
    assert note in runs_page() and STALLED not in runs_page()
    home = section(qa.get("/"), "due-failed-jobs")  # QA still sees that a scheduler process died
    assert note in home and STALLED not in home
    assert taker.outcome == "ok"

    tech = as_user("tech7", roles=["technician"])
    assert section(tech.get("/"), "due-failed-jobs") == ""


def test_a_run_that_stalls_after_every_takeover_is_left_to_qa(app, clinic, clock, monkeypatch, as_user):
    from lims.jobs.models import MAX_TAKEOVERS

    _due(clock)
    when = clock.now()
    dead = _killed_run(app, monkeypatch, clock)
    with monkeypatch.context() as m:  # the job kills every process that takes it over
        _kill_after(m, 0)
        for n in range(1, MAX_TAKEOVERS + 1):
            clock.advance(seconds=121)
            with pytest.raises(Killed):
                runner.run("expire", when)
            assert flow.row(JobRun, id=dead.id).takeovers == n
    clock.advance(seconds=121)
    assert runner.run("expire", when) is None and runner.sweep() == []  # not taken over again
    r = flow.row(JobRun, id=dead.id)
    assert (r.outcome, r.takeovers) == ("running", MAX_TAKEOVERS) and r.stalled(clock.now())
    assert all(expired_rows(app, c) == [] for c in UNITS)
    home = section(as_user("qa6", roles=["qa"]).get("/"), "due-failed-jobs")
    assert f"after {MAX_TAKEOVERS} takeovers: not taken over again" in home and STALLED not in home


def test_migration_gives_runs_claimed_before_leases_an_expired_lease(tmp_path):
    """0016 on a database with a run left "running" by a dead pre-lease scheduler: it shows as stalled and is
    taken over; a finished run's lease ended when it finished."""
    from datetime import datetime

    from sqlalchemy import text

    from lims.db import Database
    from lims.migrate import upgrade

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(db, "0013")
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO job_run (job, slot, runner, started_at, finished_at, outcome) VALUES "
                "('expire', '2026-11-23 02:00:00.000000', 'old:1', '2026-11-23 02:00:01.000000', NULL, 'running'),"
                "('expire', '2026-11-23 02:15:00.000000', 'old:1', '2026-11-23 02:15:01.000000',"
                " '2026-11-23 02:15:09.000000', 'ok')"
            )
        )
    upgrade(db)
    with db.Session() as s:
        from sqlmodel import select

        rows = s.exec(select(JobRun).order_by(JobRun.id)).all()
        utc = UTC
        assert [(r.lease_until, r.takeovers, r.taken_over_at) for r in rows] == [
            (datetime(2026, 11, 23, 2, 0, 1, tzinfo=utc), 0, None),
            (datetime(2026, 11, 23, 2, 15, 9, tzinfo=utc), 0, None),
        ]
        assert rows[0].stalled(datetime(2026, 11, 23, 2, 0, 2, tzinfo=utc)) and not rows[1].stalled(
            datetime.max.replace(tzinfo=utc)
        )
    db.dispose()
