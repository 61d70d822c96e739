"""audit integrity: signatures inside the keyed chain, a chain head that only moves forward

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# The trigger SQL is written out here (not imported) so that this revision stays what it was when later code
# changes; lims.audit.immutability.head_create_sql must produce the same triggers (tests/db/test_audit_integrity.py).
_BAD_UPDATE = (
    "NEW.id <> OLD.id OR NEW.last_seq < OLD.last_seq"
    " OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash)"
    " OR (NEW.last_seq > OLD.last_seq AND NOT EXISTS"
    " (SELECT 1 FROM audit_entry a WHERE a.id = NEW.last_seq AND a.hash = NEW.last_hash))"
)
T = "audit_chain_head"


def _create(dialect):
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {T}_forward_only BEFORE UPDATE ON {T} WHEN {_BAD_UPDATE} "
            f"BEGIN SELECT RAISE(ABORT, '{T} only moves forward to an existing row: UPDATE refused'); END",
            f"CREATE TRIGGER {T}_no_delete BEFORE DELETE ON {T} "
            f"BEGIN SELECT RAISE(ABORT, '{T} is append-only: DELETE refused'); END",
            f"CREATE TRIGGER {T}_one_row BEFORE INSERT ON {T} WHEN NEW.id <> 1 OR EXISTS (SELECT 1 FROM {T}) "
            f"BEGIN SELECT RAISE(ABORT, '{T} has one row: INSERT refused'); END",
        ]
    return [
        "CREATE OR REPLACE FUNCTION lims_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"IF TG_OP = 'UPDATE' AND NOT ({_BAD_UPDATE}) THEN RETURN NEW; END IF; "
        "IF TG_OP = 'INSERT' AND NEW.id = 1 AND NOT EXISTS (SELECT 1 FROM audit_chain_head) THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION USING MESSAGE = 'audit_chain_head only moves forward to an existing row: ' || TG_OP || ' refused'; "
        "END $$",
        f"CREATE TRIGGER {T}_forward_only BEFORE INSERT OR UPDATE OR DELETE ON {T} "
        "FOR EACH ROW EXECUTE FUNCTION lims_head_forward_only()",
        f"CREATE TRIGGER {T}_no_truncate BEFORE TRUNCATE ON {T} "
        "FOR EACH STATEMENT EXECUTE FUNCTION lims_refuse_change()",
    ]


def _drop(dialect):
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {T}_forward_only", f"DROP TRIGGER IF EXISTS {T}_no_delete",
                f"DROP TRIGGER IF EXISTS {T}_one_row"]
    return [f"DROP TRIGGER IF EXISTS {T}_forward_only ON {T}", f"DROP TRIGGER IF EXISTS {T}_no_truncate ON {T}",
            "DROP FUNCTION IF EXISTS lims_head_forward_only()"]


def upgrade() -> None:
    # ADD COLUMN (no table rebuild, so the append-only triggers of audit_entry stay as they are)
    op.add_column('audit_entry', sa.Column('signature', sa.Text(), nullable=True))
    for stmt in _create(op.get_bind().dialect.name):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in _drop(op.get_bind().dialect.name):
        op.execute(stmt)
    op.drop_column('audit_entry', 'signature')
