"""job leases: a job run's claim is a lease with a heartbeat; an expired lease is taken over

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0016'
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('takeovers', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('taken_over_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('taken_over_from', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
    # Runs claimed before leases: a finished one held its slot until it ended; one still "running" (its process
    # died) gets an expired lease, so it shows as stalled and the next run takes it over.
    op.execute("UPDATE job_run SET lease_until = COALESCE(finished_at, started_at)")
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.alter_column('lease_until', existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False)
        batch_op.alter_column('takeovers', existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_column('taken_over_from')
        batch_op.drop_column('taken_over_at')
        batch_op.drop_column('takeovers')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('lease_until')
