"""Keys are issued to principals: the role or user ARN each key acts as. Custom controls get
a change history (creation, updates, keywords put in their canonical case).

Existing keys keep acting as ``role/<key name>``; the service fills their principal at start,
when the instance's account id (which may come from configuration) is known.

Revision ID: 0008
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('access_keys') as batch:
        batch.add_column(sa.Column('principal_arn', sa.String(length=2048), nullable=True))
        batch.create_index('ix_access_keys_principal_arn', ['principal_arn'])
    op.create_table('control_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=2048), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_control_history_control', 'control_history', ['control_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_control_history_control', table_name='control_history')
    op.drop_table('control_history')
    with op.batch_alter_table('access_keys') as batch:
        batch.drop_index('ix_access_keys_principal_arn')
        batch.drop_column('principal_arn')
