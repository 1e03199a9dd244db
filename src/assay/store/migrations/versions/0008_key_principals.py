"""Keys are issued to principals: the role or user ARN each key acts as.

Existing keys keep acting as ``role/<key name>``; the service fills their principal at start,
when the instance's account id (which may come from configuration) is known.

Revision ID: 0008
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('access_keys') as batch:
        batch.add_column(sa.Column('principal_arn', sa.String(length=2048), nullable=True))
        batch.create_index('ix_access_keys_principal_arn', ['principal_arn'])


def downgrade() -> None:
    with op.batch_alter_table('access_keys') as batch:
        batch.drop_index('ix_access_keys_principal_arn')
        batch.drop_column('principal_arn')
