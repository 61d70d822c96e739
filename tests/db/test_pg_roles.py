"""PostgreSQL roles (issue 16 item 9): the application role appends to the audit trail and cannot alter it, cut it
or drop its triggers; the LIMS still works when connected as that role."""

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from config import TestConfig
from lims import create_app
from lims.db import Actor, transaction
from tests.conftest import PASSWORD, PG_BASE, PG_SCHEMA

OWNER, APP = f"lims_owner_{os.getpid()}", f"lims_app_{os.getpid()}"


@pytest.fixture
def roles(app, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL roles")
    r = app.test_cli_runner().invoke(args=["lims", "pg-roles", "--owner", OWNER, "--app", APP, "--schema", PG_SCHEMA])
    assert r.exit_code == 0, r.output
    eng = create_engine(PG_BASE)
    with eng.begin() as c:
        c.exec_driver_sql(r.output)
    yield r.output
    with eng.begin() as c:  # give everything back to the test's superuser, then drop both roles
        c.exec_driver_sql(f"REASSIGN OWNED BY {OWNER} TO CURRENT_USER")
        for role in (APP, OWNER):
            c.exec_driver_sql(f"DROP OWNED BY {role}")
            c.exec_driver_sql(f"DROP ROLE {role}")
    eng.dispose()


def _as_app(sql):
    eng = create_engine(PG_BASE)
    try:
        with eng.begin() as c:
            c.exec_driver_sql(f"SET search_path TO {PG_SCHEMA}")
            c.exec_driver_sql(f"SET ROLE {APP}")
            return (
                c.execute(text(sql)).fetchall() if sql.lstrip().upper().startswith("SELECT") else c.execute(text(sql))
            )
    finally:
        eng.dispose()


def test_printed_sql_grants_only_select_and_insert_on_the_audit_tables(roles):
    assert f"GRANT SELECT, INSERT ON {PG_SCHEMA}.audit_entry TO {APP};" in roles
    assert f"GRANT SELECT, INSERT ON {PG_SCHEMA}.signature TO {APP};" in roles
    assert f"GRANT SELECT, UPDATE ON {PG_SCHEMA}.audit_chain_head TO {APP};" in roles
    assert f"ALTER TABLE {PG_SCHEMA}.audit_entry OWNER TO {OWNER};" in roles


def test_the_app_role_cannot_change_cut_or_unguard_the_trail(roles, app, make_user):
    make_user("tech1")
    for sql in (
        "UPDATE audit_entry SET reason = 'x' WHERE id = 1",
        "DELETE FROM audit_entry WHERE id = 1",
        "TRUNCATE audit_entry",
        "UPDATE signature SET meaning = 'x'",
        "DELETE FROM signature",
        "DELETE FROM audit_chain_head",
        "TRUNCATE audit_chain_head",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            _as_app(sql)
    for sql in (
        "DROP TRIGGER audit_entry_no_change ON audit_entry",
        "ALTER TABLE audit_entry DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_chain_head_forward_only ON audit_chain_head",
        "DROP TABLE audit_entry",
        "ALTER TABLE signature DISABLE TRIGGER USER",
    ):
        with pytest.raises(DBAPIError, match="must be owner"):
            _as_app(sql)
    with pytest.raises(DBAPIError, match="only moves forward"):  # UPDATE is granted on the head: the trigger decides
        _as_app("UPDATE audit_chain_head SET last_seq = last_seq - 1")
    assert _as_app("SELECT count(*) FROM audit_entry")[0][0] > 0


def test_the_lims_works_connected_as_the_app_role(roles, app, tmp_path, clock):
    from lims.audit.signatures import sign
    from lims.auth.models import User
    from lims.equipment import operations as eq_ops
    from lims.equipment.models import Equipment

    host = PG_BASE.split("://", 1)[1]
    url = f"postgresql+psycopg://{APP}@{host}?options=-csearch_path%3D{PG_SCHEMA}"
    a = create_app(TestConfig, DATABASE_URL=url, AUDIT_CHECKPOINT_DIR=str(tmp_path / "cp"))
    a.extensions["clock"] = clock
    try:
        with a.app_context():
            from lims.auth.operations import create_user

            with transaction(Actor(None, "setup")) as s:
                tech = create_user(s, "tech9", "Tech Nine", ["technician"], PASSWORD, "en", must_change=False).id
                qa = create_user(s, "qa9", "QA Nine", ["qa"], PASSWORD, "en", must_change=False).id
            with transaction(Actor(tech, "Tech Nine")) as s:
                eid = eq_ops.create(
                    s,
                    "EQ-R-01",
                    {
                        "name": "n",
                        "kind": "other",
                        "location": "",
                        "serial_number": "",
                        "status": "in_service",
                        "calibration_due": None,
                        "notes": None,
                    },
                ).id
            with transaction(Actor(qa, "QA Nine")) as s:
                sign(s, s.get(Equipment, eid), "approved", s.get(User, qa), PASSWORD, performers=(tech,))
            r = a.test_cli_runner().invoke(args=["lims", "audit-verify"])
            assert r.exit_code == 0, r.output
    finally:
        a.extensions["lims_db"].dispose()
