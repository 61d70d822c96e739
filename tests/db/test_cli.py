"""The `flask --app wsgi lims ...` commands."""

from pathlib import Path

from sqlmodel import func, select

from lims.auth.models import User
from lims.db import Actor, transaction
from lims.equipment.models import Equipment
from tests.conftest import audit_rows


def _count(model):
    with transaction(Actor(None, "t"), write=False) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_demo_data_is_idempotent_and_prints_accounts(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["lims", "demo-data"])
    assert first.exit_code == 0, first.output
    assert "admin" in first.output and "Demo-Password-2026" in first.output
    users, equipment, rows = _count(User), _count(Equipment), len(audit_rows(app))
    second = runner.invoke(args=["lims", "demo-data"])
    assert second.exit_code == 0 and "(0 new records)" in second.output
    assert (_count(User), _count(Equipment), len(audit_rows(app))) == (users, equipment, rows)


def test_demo_lab_shows_a_signature_invalidated_by_a_later_change(app):
    from lims.audit.signatures import current_signature
    from lims.equipment.operations import by_code

    app.test_cli_runner().invoke(args=["lims", "demo-data"])
    with transaction(Actor(None, "t"), write=False) as s:
        assert current_signature(s, by_code(s, "EQ-GFM-01"), "approved").valid
        assert not current_signature(s, by_code(s, "EQ-CEN-01"), "approved").valid
        assert current_signature(s, by_code(s, "EQ-WB-01"), "approved") is None


def test_create_user_command(app):
    runner = app.test_cli_runner()
    r = runner.invoke(
        args=[
            "lims",
            "create-user",
            "wang.jun",
            "--name",
            "Wang Jun",
            "--role",
            "admin",
            "--password",
            "Very-Long-Password-1",
        ]
    )
    assert r.exit_code == 0, r.output
    with transaction(Actor(None, "t"), write=False) as s:
        u = s.exec(select(User).where(User.username == "wang.jun")).one()
        assert u.must_change_password and u.roles == "admin"
    row = audit_rows(app, entity="app_user", field="username")[0]
    assert row.user_name.startswith("system (command line")


def test_create_user_command_refuses_a_short_password(app):
    r = app.test_cli_runner().invoke(
        args=["lims", "create-user", "x1", "--name", "X", "--role", "qa", "--password", "short"]
    )
    assert r.exit_code != 0 and "at least 12 characters" in r.output
    assert _count(User) == 0


def test_backup_and_restore_sqlite(app, backend, tmp_path):
    runner = app.test_cli_runner()
    if backend == "postgresql":
        r = runner.invoke(args=["lims", "backup"])
        assert r.exit_code == 0 and "pg_dump" in r.output
        r = runner.invoke(args=["lims", "restore", __file__])
        assert "pg_restore" in r.output
        return
    runner.invoke(args=["lims", "demo-data"])
    r = runner.invoke(args=["lims", "backup", "--to", str(tmp_path / "bk")])
    assert r.exit_code == 0, r.output
    backup = Path(r.output.split("backup written: ")[1].split()[0])
    assert backup.exists()
    equipment_before = _count(Equipment)
    with transaction(Actor(None, "t")) as s:  # work done after the backup ...
        from lims.equipment import operations as ops

        ops.create(
            s,
            "EQ-NEW-01",
            {
                "name": "n",
                "kind": "other",
                "location": "",
                "serial_number": "",
                "status": "in_service",
                "calibration_due": None,
                "notes": None,
            },
        )
    assert _count(Equipment) == equipment_before + 1
    refused = runner.invoke(args=["lims", "restore", str(backup)])
    assert refused.exit_code != 0 and "--yes" in refused.output and _count(Equipment) == equipment_before + 1
    r = runner.invoke(args=["lims", "restore", str(backup), "--yes"])
    assert r.exit_code == 0, r.output
    assert _count(Equipment) == equipment_before  # ... is gone after the restore
    assert audit_rows(app, action="restore")
    assert runner.invoke(args=["lims", "audit-verify"]).exit_code == 0


def test_restore_refuses_a_file_that_is_not_a_lims_backup(app, backend, tmp_path):
    if backend != "sqlite":
        return
    bogus = tmp_path / "bogus.sqlite"
    import sqlite3

    sqlite3.connect(bogus).execute("create table t (x)").connection.commit()
    from lims.cli import _sha256

    r = app.test_cli_runner().invoke(args=["lims", "restore", str(bogus), "--yes", "--sha256", _sha256(bogus)])
    assert r.exit_code != 0 and "not a LIMS database backup" in r.output


def test_init_is_idempotent(app):
    r = app.test_cli_runner().invoke(args=["lims", "init"])
    from alembic.script import ScriptDirectory

    from lims.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert r.exit_code == 0 and f"at revision {head}" in r.output


def test_demo_lab_has_donors_in_every_stage_of_screening(app):
    from lims.donors.models import Donor

    app.test_cli_runner().invoke(args=["lims", "demo-data"])
    with transaction(Actor(None, "t"), write=False) as s:
        status = {d.code: (d.status, d.status_until) for d in s.exec(select(Donor)).all()}
        reason = s.exec(select(Donor.status_reason).where(Donor.code == "D-0001")).one()
    # the demo's lookback case (a follow-up fever traced back) suspends the reference donor until a new decision
    assert status["D-0001"] == ("suspended", None) and "LB-2026-0001" in reason
    assert status["D-0002"][0] == "deferred"
    assert status["D-0003"] == ("in_screening", None)
    assert runner_ok(app)


def test_demo_lab_is_in_the_middle_of_manufacturing(app, clock):
    """Released (cleared by the re-screening), quarantined (donated after it), in process today, one donation rejected."""
    from lims.manufacturing.models import Batch, Deviation, Donation, DoseUnit

    r = app.test_cli_runner().invoke(args=["lims", "demo-data"])
    assert r.exit_code == 0, r.output
    with transaction(Actor(None, "t"), write=False) as s:
        batches = {b.status: b for b in s.exec(select(Batch)).all()}
        donations = s.exec(select(Donation)).all()
        assert set(batches) == {"released", "quarantine", "in_process"}
        units = {
            b: sorted({u.status for u in s.exec(select(DoseUnit).where(DoseUnit.batch_id == batches[b].id)).all()})
            for b in ("released", "quarantine")
        }
        # P-0004's course used two units of the released batch and holds a third for today; a fourth,
        # thawed seven hours ago for a dose that moved, was expired by the scheduler's first pass.
        assert units == {"released": ["administered", "available", "expired", "reserved"], "quarantine": ["quarantine"]}
        assert [d.status for d in donations].count("rejected") == 1
        assert [d.status for d in s.exec(select(Deviation)).all()] == ["closed"]
        from lims.clinical.models import Recipient

        cohort = [(r.code, r.ecog, r.prior_lines) for r in s.exec(select(Recipient).order_by(Recipient.id)).all()]
        assert cohort == [("P-0001", 3, 7), ("P-0002", 2, 2), ("P-0003", 2, 5), ("P-0004", 3, 7), ("P-0005", 4, 9)]
        from lims.clinical.ae_models import AdverseEvent
        from lims.clinical.course_models import Administration, Course, Postponement

        courses = {c.code: c.status for c in s.exec(select(Course)).all()}
        assert courses == {"P-0004-C1": "in_progress", "P-0001-C1": "planned"}
        doses = [
            (a.code, a.status, (a.scheduled_date - a.planned_date).days, a.unit_id is not None)
            for a in s.exec(select(Administration).order_by(Administration.code)).all()
        ]
        assert doses[3:] == [
            ("P-0004-C1-D1", "given", 0, True),
            ("P-0004-C1-D2", "given", 1, True),
            ("P-0004-C1-D3", "planned", 1, True),
        ]
        assert [p.reason_code for p in s.exec(select(Postponement)).all()] == ["fever"]
        ae = s.exec(select(AdverseEvent)).one()
        assert (ae.term, ae.grade, ae.attribution_fmt, ae.serious) == ("Fever", 1, "possible", False)
    assert runner_ok(app)
    # Expiry: nothing is due now; 7 months later every unit has expired and the released batch with them.
    r = app.test_cli_runner().invoke(args=["lims", "expire-due"])
    assert r.exit_code == 0 and "0 unit(s) and 0 batch(es)" in r.output
    clock.advance(days=213)
    r = app.test_cli_runner().invoke(args=["lims", "expire-due"])
    assert "15 unit(s) and 1 batch(es)" in r.output, r.output  # administered units stay, the thawed one expired already


def runner_ok(app):
    return app.test_cli_runner().invoke(args=["lims", "audit-verify"]).exit_code == 0


def test_demo_lookback_case_lists_every_donation_of_the_donor_with_its_scope_and_reason(app):
    """The demo's case for the febrile donation: QA widened it to today's batch; the others are excluded, with why."""
    import re

    from lims.demo import DEMO_PASSWORD
    from lims.lookback.models import LookbackHold, LookbackScopeAddition
    from lims.manufacturing.models import Batch
    from tests.conftest import Browser, page_text

    app.test_cli_runner().invoke(args=["lims", "demo-data"])
    with transaction(Actor(None, "t"), write=False) as s:
        lots = {b.status: b.lot for b in s.exec(select(Batch)).all()}
        added = [a.ref_code for a in s.exec(select(LookbackScopeAddition)).all()]
        held = {h.ref_code for h in s.exec(select(LookbackHold).where(LookbackHold.kind == "batch")).all()}
    assert added == [lots["in_process"]] and held == {lots["quarantine"], lots["in_process"]}
    qa = Browser(app.test_client())
    assert qa.login("qa2", DEMO_PASSWORD).status_code == 302
    page = " ".join(re.sub(r"<[^>]+>", " ", page_text(qa.get("/lookback/LB-2026-0001"))).split())
    table = page[page.index("Every donation of the donor") : page.index("Recipients reached")]
    assert f"{lots['released']} released excluded the case was opened for another batch of the donor only" in table
    assert "no batch excluded the case was opened for another batch" in table  # the rejected donation
    assert f"{lots['quarantine']} quarantine in scope the batch named when the case was opened" in table
    assert (
        f"{lots['in_process']} in process in scope added by QA (LB-2026-0001-S1): Donated after the reported fever"
        in table
    )
