"""storage runs: a batch's units stored into a box in one signed scan session

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('storage_run',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('box_id', sa.Integer(), nullable=False),
    sa.Column('box_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('lot', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('placements', sa.Text(), nullable=False),
    sa.Column('unit_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['box_id'], ['storage_location.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['updated_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('storage_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_storage_run_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_storage_run_box_id'), ['box_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_storage_run_code'), ['code'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('storage_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_storage_run_code'))
        batch_op.drop_index(batch_op.f('ix_storage_run_box_id'))
        batch_op.drop_index(batch_op.f('ix_storage_run_batch_id'))
    op.drop_table('storage_run')
