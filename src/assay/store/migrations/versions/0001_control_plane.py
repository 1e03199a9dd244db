"""The control plane: instance documents, access keys, custom controls and frameworks, tags.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float),
    )
    audit_columns = lambda: [  # noqa: E731 - the same four columns on every library table
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
    ]
    op.create_table(
        "controls",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False, unique=True),
        sa.Column("description", sa.Text),
        sa.Column("testing_information", sa.Text),
        sa.Column("action_plan_title", sa.Text),
        sa.Column("action_plan_instructions", sa.Text),
        sa.Column("mapping_sources", sa.JSON, nullable=False),
        *audit_columns(),
    )
    op.create_table(
        "frameworks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False, unique=True),
        sa.Column("description", sa.Text),
        sa.Column("compliance_type", sa.String(100)),
        sa.Column("logo", sa.String(255)),
        sa.Column("control_sets", sa.JSON, nullable=False),
        *audit_columns(),
    )
    op.create_table(
        "framework_controls",
        sa.Column("framework_id", sa.String(36),
                  sa.ForeignKey("frameworks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("control_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_framework_controls_control", "framework_controls", ["control_id"])
    op.create_table(
        "tags",
        sa.Column("resource_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    for table in ("tags", "framework_controls", "frameworks", "controls", "access_keys", "instance"):
        op.drop_table(table)
