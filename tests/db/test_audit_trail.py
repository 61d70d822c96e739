"""The audit trail at the database level, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import text

from lims.audit.trail import audit_event, change_reason
from lims.db import Actor, transaction
from lims.equipment import operations as eq_ops
from lims.equipment.models import Equipment
from lims.errors import ReasonRequired
from tests.conftest import audit_rows

DATA = {
    "name": "Centrifuge",
    "kind": "centrifuge",
    "location": "Room 2",
    "serial_number": "S1",
    "status": "in_service",
    "calibration_due": None,
    "notes": None,
}


def _new_equipment(user_id, name="Tech One"):
    with transaction(Actor(user_id, name, "10.0.0.5")) as s:
        return eq_ops.create(s, "EQ-CEN-01", dict(DATA)).id


def test_insert_writes_one_row_per_field_with_user_time_and_client(app, make_user, clock):
    uid = make_user("tech1", name="Tech One")
    eid = _new_equipment(uid)
    rows = audit_rows(app, entity="equipment", record_id=str(eid))
    fields = {r.field: r.new_value for r in rows}
    assert fields["code"] == "EQ-CEN-01" and fields["name"] == "Centrifuge" and fields["location"] == "Room 2"
    assert "version" not in fields and "created_at" not in fields  # meta fields are on every row already
    for r in rows:
        assert r.action == "create" and r.user_id == uid and r.user_name == "Tech One" and r.client == "10.0.0.5"
        assert r.ts == clock.now() and r.record_version == 1 and r.old_value is None


def test_update_records_old_new_and_reason(app, make_user):
    uid = make_user("tech1")
    eid = _new_equipment(uid)
    with transaction(Actor(uid, "Tech1")) as s:
        eq = s.get(Equipment, eid)
        eq_ops.update(s, eq, f"{eq.id}@1", dict(DATA, location="Room 3"), "moved after renovation")
    rows = audit_rows(app, entity="equipment", record_id=str(eid), action="update")
    assert [(r.field, r.old_value, r.new_value, r.reason, r.record_version) for r in rows] == [
        ("location", "Room 2", "Room 3", "moved after renovation", 2)
    ]


def test_update_without_reason_is_refused_and_nothing_changes(app, make_user):
    uid = make_user("tech1")
    eid = _new_equipment(uid)
    before = len(audit_rows(app))
    with pytest.raises(ReasonRequired):
        with transaction(Actor(uid, "Tech1")) as s:
            s.get(Equipment, eid).location = "Room 9"
            s.flush()
    with transaction(Actor(uid, "Tech1"), write=False) as s:
        eq = s.get(Equipment, eid)
        assert eq.location == "Room 2" and eq.version == 1
    assert len(audit_rows(app)) == before


def test_delete_needs_a_reason_and_is_audited_with_old_values(app, make_user):
    uid = make_user("tech1")
    eid = _new_equipment(uid)
    with pytest.raises(ReasonRequired):
        with transaction(Actor(uid, "Tech1")) as s:
            s.delete(s.get(Equipment, eid))
            s.flush()
    with transaction(Actor(uid, "Tech1")) as s:
        with change_reason(s, "registered twice by mistake"):
            s.delete(s.get(Equipment, eid))
    rows = audit_rows(app, entity="equipment", record_id=str(eid), action="delete")
    assert {r.field: r.old_value for r in rows}["code"] == "EQ-CEN-01"
    assert all(r.reason == "registered twice by mistake" for r in rows)


def test_events_are_audited_without_a_row_change(app):
    with transaction(Actor(None, "system")) as s:
        audit_event(s, "print", "equipment", 7, reason="label reprint: smudged")
    (row,) = audit_rows(app, action="print")
    assert row.entity == "equipment" and row.record_id == "7" and row.reason == "label reprint: smudged"


@pytest.mark.parametrize("statement", ["UPDATE audit_entry SET new_value = 'x'", "DELETE FROM audit_entry"])
def test_database_refuses_update_and_delete_of_audit_rows(app, make_user, statement):
    make_user("tech1")
    engine = app.extensions["lims_db"].engine
    with pytest.raises(Exception) as err:
        with engine.begin() as conn:
            conn.execute(text(statement))
    assert "append-only" in str(err.value)
    assert all(r.new_value != "x" for r in audit_rows(app))


def test_database_refuses_changes_to_signatures(app, make_user):
    from lims.audit.signatures import sign

    tech = make_user("tech1")
    qa = make_user("qa1", roles=["qa"], name="QA One")
    eid = _new_equipment(tech)
    from tests.conftest import PASSWORD

    with transaction(Actor(qa, "QA One")) as s:
        from lims.auth.models import User

        sign(s, s.get(Equipment, eid), "approved", s.get(User, qa), PASSWORD, performers=(tech,))
    engine = app.extensions["lims_db"].engine
    for statement in ("UPDATE signature SET meaning = 'rejected'", "DELETE FROM signature"):
        with pytest.raises(Exception) as err:
            with engine.begin() as conn:
                conn.execute(text(statement))
        assert "append-only" in str(err.value)


def test_emptying_the_table_at_once_is_refused(app, backend, make_user):
    """PostgreSQL: TRUNCATE (which skips row triggers) has its own trigger.
    SQLite: an unqualified DELETE uses the truncate optimisation unless a trigger exists."""
    make_user("tech1")
    statement = "TRUNCATE audit_entry" if backend == "postgresql" else "DELETE FROM audit_entry WHERE 1"
    with pytest.raises(Exception) as err:
        with app.extensions["lims_db"].engine.begin() as conn:
            conn.execute(text(statement))
    assert "append-only" in str(err.value)
    assert len(audit_rows(app)) > 0


def test_sequence_is_contiguous_and_chained(app, make_user):
    make_user("tech1")
    make_user("tech2")
    rows = audit_rows(app)
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))


def _tamper(app, backend, sql):
    from lims.audit.immutability import create_sql, drop_sql

    engine = app.extensions["lims_db"].engine
    with engine.begin() as conn:
        for stmt in drop_sql(engine.dialect.name, "audit_entry"):
            conn.exec_driver_sql(stmt)
        conn.execute(text(sql))
        for stmt in create_sql(engine.dialect.name, "audit_entry"):
            conn.exec_driver_sql(stmt)


def test_audit_verify_command_passes_then_reports_the_tampered_row(app, backend, make_user):
    make_user("tech1")
    eid = _new_equipment(1)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["lims", "audit-verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    target = audit_rows(app, entity="equipment", record_id=str(eid), field="location")[0].id
    _tamper(app, backend, f"UPDATE audit_entry SET new_value = 'Room 99' WHERE id = {target}")
    bad = runner.invoke(args=["lims", "audit-verify"])
    assert bad.exit_code == 1
    assert f"BROKEN at row {target}" in bad.output and "altered" in bad.output


def test_audit_verify_reports_deleted_rows(app, backend, make_user):
    make_user("tech1")
    make_user("tech2")
    last = audit_rows(app)[-1].id
    _tamper(app, backend, f"DELETE FROM audit_entry WHERE id = {last}")
    bad = app.test_cli_runner().invoke(args=["lims", "audit-verify"])
    assert bad.exit_code == 1 and "removed" in bad.output
