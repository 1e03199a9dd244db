"""The evidence finder's table (ledger records on Audit Manager's evidence record schema) and
the query a report was built from.

Revision ID: 0010
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0011'
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_evidence_finder_time": ["event_time"],
    "ix_evidence_finder_rank": ["result_rank", "event_time"],
    "ix_evidence_finder_assessment": ["assessment_id", "control_set_id", "event_time"],
    "ix_evidence_finder_account": ["evidence_aws_account_id", "event_time"],
    "ix_evidence_finder_check": ["compliance_check", "event_time"],
    "ix_evidence_finder_source": ["data_source", "event_time"],
    "ix_evidence_finder_resource": ["resource_arn"],
    "ix_evidence_finder_evidence": ["evidence_id"],
}


def upgrade() -> None:
    op.create_table('evidence_finder',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('part', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('event_version', sa.String(length=8), nullable=True),
    sa.Column('event_category', sa.String(length=32), nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=True),
    sa.Column('event_id', sa.String(length=48), nullable=False),
    sa.Column('event_time', sa.DateTime(), nullable=False),
    sa.Column('aws_region', sa.String(length=32), nullable=True),
    sa.Column('recipient_account_id', sa.String(length=12), nullable=True),
    sa.Column('aws_account_id', sa.String(length=12), nullable=True),
    sa.Column('aws_organization', sa.String(length=2048), nullable=True),
    sa.Column('compliance_check', sa.String(length=32), nullable=True),
    sa.Column('data_source', sa.String(length=64), nullable=True),
    sa.Column('event_name', sa.String(length=256), nullable=True),
    sa.Column('event_source', sa.String(length=128), nullable=True),
    sa.Column('evidence_aws_account_id', sa.String(length=12), nullable=True),
    sa.Column('evidence_by_type', sa.String(length=32), nullable=True),
    sa.Column('iam_id', sa.String(length=2048), nullable=True),
    sa.Column('evidence_id', sa.String(length=36), nullable=False),
    sa.Column('evidence_time', sa.DateTime(), nullable=True),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('control_name', sa.String(length=300), nullable=True),
    sa.Column('control_domain_name', sa.String(length=300), nullable=True),
    sa.Column('framework_name', sa.String(length=300), nullable=True),
    sa.Column('framework_id', sa.String(length=36), nullable=True),
    sa.Column('service', sa.String(length=64), nullable=True),
    sa.Column('service_category', sa.String(length=32), nullable=True),
    sa.Column('resource_arn', sa.String(length=2048), nullable=True),
    sa.Column('resource_type', sa.String(length=256), nullable=True),
    sa.Column('evidence_folder_id', sa.String(length=36), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('manual_evidence_s3_resource_path', sa.String(length=2048), nullable=True),
    sa.Column('evidence_folder_name', sa.String(length=10), nullable=True),
    sa.Column('resource_compliance_check', sa.String(length=32), nullable=True),
    sa.Column('result_rank', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('seq', 'part')
    )
    with op.batch_alter_table('evidence_finder', schema=None) as batch_op:
        for name, columns in _INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table('assessment_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('query_statement', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('assessment_reports', schema=None) as batch_op:
        batch_op.drop_column('query_statement')
    with op.batch_alter_table('evidence_finder', schema=None) as batch_op:
        for name in _INDEXES:
            batch_op.drop_index(name)
    op.drop_table('evidence_finder')
