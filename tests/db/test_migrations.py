"""Alembic is the only source of the schema; the models must agree with it."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import lims.models  # noqa: F401


def test_models_and_migrations_agree(app):
    engine = app.extensions["lims_db"].engine
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == [], "models differ from the migrations; write a migration:\n" + "\n".join(map(str, diff))


def test_schema_is_at_head(app):
    from alembic.script import ScriptDirectory

    from lims.migrate import alembic_config, current_revision

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(app.extensions["lims_db"]) == head


def test_a_model_change_without_migration_is_detected(app):
    """The agreement check above can fail: an extra column shows up as a difference."""
    from sqlalchemy import Column, MetaData, String, Table

    engine = app.extensions["lims_db"].engine
    md = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(md)
    Table("equipment", md, Column("extra_field", String(10)), extend_existing=True)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, md)
    assert any(d[0] == "add_column" and d[3].name == "extra_field" for d in diff)


def test_sqlite_pragmas(app, backend):
    if backend != "sqlite":
        return
    with app.extensions["lims_db"].engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    assert "audit_entry" in inspect(app.extensions["lims_db"].engine).get_table_names()
