"""Collection as jobs: shards of a run, and throttled-then-succeeded counts.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('collection_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shards', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('throttled', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('dispatcher', sa.String(length=100), nullable=True))
    with op.batch_alter_table('collection_runs', schema=None) as batch_op:
        batch_op.alter_column('shards', server_default=None)
        batch_op.alter_column('throttled', server_default=None)
    op.create_table('collection_shards',
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('shard', sa.String(length=200), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('part', sa.String(length=100), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('throttled', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('started_at', sa.Float(), nullable=True),
    sa.Column('finished_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('run_id', 'shard')
    )
    with op.batch_alter_table('collection_shards', schema=None) as batch_op:
        batch_op.create_index('ix_collection_shards_status', ['run_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('collection_shards', schema=None) as batch_op:
        batch_op.drop_index('ix_collection_shards_status')
    op.drop_table('collection_shards')
    with op.batch_alter_table('collection_runs', schema=None) as batch_op:
        batch_op.drop_column('dispatcher')
        batch_op.drop_column('throttled')
        batch_op.drop_column('shards')
