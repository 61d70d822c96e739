"""lookback scope: donations and batches QA added to a case's scope with a signed reason

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lookback_scope',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('donation_id', sa.Integer(), nullable=False),
    sa.Column('ref_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['lookback_action.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['lookback_case.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['donation_id'], ['donation.id'], ),
    sa.ForeignKeyConstraint(['updated_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lookback_scope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lookback_scope_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lookback_scope', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lookback_scope_case_id'))
    op.drop_table('lookback_scope')
