"""Framework sharing: share requests and the peers they are delivered to.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "framework_shares",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("framework_id", sa.String(36), nullable=False),
        sa.Column("framework_name", sa.String(300), nullable=False),
        sa.Column("framework_description", sa.Text),
        sa.Column("compliance_type", sa.String(100)),
        sa.Column("source_account", sa.String(12), nullable=False),
        sa.Column("destination_account", sa.String(12), nullable=False),
        sa.Column("destination_region", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.String(500)),
        sa.Column("standard_controls_count", sa.Integer),
        sa.Column("custom_controls_count", sa.Integer),
        sa.Column("payload", sa.JSON),
        sa.Column("expiration_time", sa.Float, nullable=False),
        sa.Column("creation_time", sa.Float, nullable=False),
        sa.Column("last_updated", sa.Float, nullable=False),
    )
    op.create_index("ix_framework_shares_direction", "framework_shares",
                    ["direction", "creation_time"])
    op.create_table(
        "peers",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("endpoint_url", sa.String(2048), nullable=False),
        sa.Column("access_key_id", sa.String(128), nullable=False),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("peers")
    op.drop_table("framework_shares")
