"""Peers: the access key this instance issued to each peer, the only key whose signature its
deliveries and answers are accepted with.

Revision ID: 0009
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('peers') as batch:
        batch.add_column(sa.Column('inbound_key_id', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('peers') as batch:
        batch.drop_column('inbound_key_id')
