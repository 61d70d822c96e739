"""hardening: donor suspension reason, release basis per storage in the spec, one-time form tokens

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('manufacturing_spec', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fresh_release_basis', sqlmodel.sql.sqltypes.AutoString(length=40),
                                      server_default='eligible_at_donation', nullable=False))
        batch_op.add_column(sa.Column('frozen_release_basis', sqlmodel.sql.sqltypes.AutoString(length=40),
                                      server_default='screening_after_donation', nullable=False))
    op.create_table('form_token',
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('result_url', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('result_label', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('token')
    )


def downgrade() -> None:
    op.drop_table('form_token')
    with op.batch_alter_table('manufacturing_spec', schema=None) as batch_op:
        batch_op.drop_column('frozen_release_basis')
        batch_op.drop_column('fresh_release_basis')
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.drop_column('status_reason')
