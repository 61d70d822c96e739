"""label verification: every dose-unit label print with the state it said, verified by scanning it back

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('label_print',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('layout', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('use_by', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('thawed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('printed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('printed_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['printed_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['dose_unit.id'], ),
    sa.ForeignKeyConstraint(['updated_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['verified_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('label_print', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_print_unit_id'), ['unit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('label_print', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_print_unit_id'))
    op.drop_table('label_print')
