"""Assessment reports.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment_reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("assessment_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("author_arn", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text),
        sa.Column("destination", sa.JSON, nullable=False),
        sa.Column("relative_path", sa.String(2048)),
        sa.Column("blob_hash", sa.String(64)),
        sa.Column("size", sa.BigInteger),
        sa.Column("evidence_count", sa.Integer),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("completed_at", sa.Float),
    )
    op.create_index("ix_assessment_reports_assessment", "assessment_reports",
                    ["assessment_id", "created_at"])


def downgrade() -> None:
    op.drop_table("assessment_reports")
