"""Database triggers that make append-only tables refuse UPDATE and DELETE.

Used by the migration that creates the tables, and by the test fixtures that
must empty the database between tests (they drop, truncate and re-create).
"""

from __future__ import annotations

APPEND_ONLY_TABLES = ("audit_entry", "signature")


def create_sql(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END",
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION lims_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused'; END $$",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION lims_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION lims_refuse_change()",
        ]
    raise ValueError(f"unsupported database dialect {dialect!r}")


def drop_sql(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]


# --- the chain head: one row that only moves forward ----------------------------------------------------------

CHAIN_HEAD_TABLE = "audit_chain_head"
# Every table a fixture that empties the database must unguard and guard again.
GUARDED_TABLES = APPEND_ONLY_TABLES + (CHAIN_HEAD_TABLE,)

_HEAD_BAD_UPDATE = (
    "NEW.id <> OLD.id OR NEW.last_seq < OLD.last_seq"
    " OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash)"
    " OR (NEW.last_seq > OLD.last_seq AND NOT EXISTS"
    " (SELECT 1 FROM audit_entry a WHERE a.id = NEW.last_seq AND a.hash = NEW.last_hash))"
)


def head_create_sql(dialect: str) -> list[str]:
    """The head may only move forward to an existing row's (id, hash); never deleted, never a second row."""
    t = CHAIN_HEAD_TABLE
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {t}_forward_only BEFORE UPDATE ON {t} WHEN {_HEAD_BAD_UPDATE} "
            f"BEGIN SELECT RAISE(ABORT, '{t} only moves forward to an existing row: UPDATE refused'); END",
            f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} "
            f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: DELETE refused'); END",
            f"CREATE TRIGGER {t}_one_row BEFORE INSERT ON {t} WHEN NEW.id <> 1 OR EXISTS (SELECT 1 FROM {t}) "
            f"BEGIN SELECT RAISE(ABORT, '{t} has one row: INSERT refused'); END",
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION lims_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            f"IF TG_OP = 'UPDATE' AND NOT ({_HEAD_BAD_UPDATE}) THEN RETURN NEW; END IF; "
            "IF TG_OP = 'INSERT' AND NEW.id = 1 AND NOT EXISTS (SELECT 1 FROM audit_chain_head) THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION USING MESSAGE = 'audit_chain_head only moves forward to an existing row: ' || TG_OP || ' refused'; "
            "END $$",
            f"CREATE TRIGGER {t}_forward_only BEFORE INSERT OR UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION lims_head_forward_only()",
            f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
            "FOR EACH STATEMENT EXECUTE FUNCTION lims_refuse_change()",
        ]
    raise ValueError(f"unsupported database dialect {dialect!r}")


def head_drop_sql(dialect: str) -> list[str]:
    t = CHAIN_HEAD_TABLE
    if dialect == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {t}_forward_only",
            f"DROP TRIGGER IF EXISTS {t}_no_delete",
            f"DROP TRIGGER IF EXISTS {t}_one_row",
        ]
    return [f"DROP TRIGGER IF EXISTS {t}_forward_only ON {t}", f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}"]


def guard_sql(dialect: str, table: str) -> list[str]:
    """The triggers of any guarded table (append-only tables and the chain head)."""
    return head_create_sql(dialect) if table == CHAIN_HEAD_TABLE else create_sql(dialect, table)


def unguard_sql(dialect: str, table: str) -> list[str]:
    return head_drop_sql(dialect) if table == CHAIN_HEAD_TABLE else drop_sql(dialect, table)


# --- PostgreSQL roles: an owner for migrations, an application role that can only append to the audit tables --

APPEND_ONLY_GRANTS = {
    "audit_entry": "SELECT, INSERT",
    "signature": "SELECT, INSERT",
    CHAIN_HEAD_TABLE: "SELECT, UPDATE",
}  # the head moves forward only (trigger)


def pg_role_sql(owner: str, app: str, schema: str, tables: list[str], database: str | None = None) -> list[str]:
    """SQL that a superuser runs once (the roles) and again after every migration (the grants; idempotent).

    The owner owns the schema and every table, so only it (never the application) can drop or disable the
    triggers. The application role may read and write the records, but only SELECT and INSERT the audit trail
    and the signatures, and UPDATE the chain head (which its trigger lets move only forward)."""
    for name in (owner, app, schema):
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a plain SQL name: {name!r}")
    out = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{owner}') THEN "
        f"CREATE ROLE {owner} LOGIN; END IF; END $$",
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app}') THEN "
        f"CREATE ROLE {app} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$",
    ]
    if database:
        out.append(f"ALTER DATABASE {database} OWNER TO {owner}")
    out += [
        f"ALTER SCHEMA {schema} OWNER TO {owner}",
        f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA {schema} FROM {app}",
        f"GRANT USAGE ON SCHEMA {schema} TO {app}",
    ]
    for t in sorted(tables):
        out.append(f"ALTER TABLE {schema}.{t} OWNER TO {owner}")
        out.append(f"REVOKE ALL ON {schema}.{t} FROM {app}")
        if t in APPEND_ONLY_GRANTS:
            out.append(f"GRANT {APPEND_ONLY_GRANTS[t]} ON {schema}.{t} TO {app}")
        elif t == "alembic_version":
            out.append(f"GRANT SELECT ON {schema}.{t} TO {app}")
        else:
            out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{t} TO {app}")
    out.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}")
    out.append(f"ALTER FUNCTION {schema}.lims_refuse_change() OWNER TO {owner}")
    out.append(f"ALTER FUNCTION {schema}.lims_head_forward_only() OWNER TO {owner}")
    return out
