"""Collection runs, per-source state (frequency windows, cursors) and failures.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collection_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('keyword', sa.String(length=100), nullable=False),
    sa.Column('error_code', sa.String(length=128), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('collection_failures', schema=None) as batch_op:
        batch_op.create_index('ix_collection_failures_assessment', ['assessment_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_collection_failures_run', ['run_id'], unique=False)

    op.create_table('collection_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('finished_at', sa.Float(), nullable=True),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('collection_runs', schema=None) as batch_op:
        batch_op.create_index('ix_collection_runs_assessment', ['assessment_id', 'started_at'], unique=False)

    op.create_table('collection_state',
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('keyword', sa.String(length=100), nullable=False),
    sa.Column('last_run_at', sa.Float(), nullable=True),
    sa.Column('last_success_at', sa.Float(), nullable=True),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('assessment_id', 'account_id', 'region', 'source_type', 'keyword')
    )


def downgrade() -> None:
    op.drop_table('collection_state')
    with op.batch_alter_table('collection_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_collection_runs_assessment')

    op.drop_table('collection_runs')
    with op.batch_alter_table('collection_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_collection_failures_run')
        batch_op.drop_index('ix_collection_failures_assessment')

    op.drop_table('collection_failures')
