"""The console's audit work: ended sessions, control assignments, risk exceptions and the expiry
of manual evidence.

Revision ID: 0011
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ended_sessions',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('principal_arn', sa.String(length=2048), nullable=False),
    sa.Column('ended_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('session_id')
    )
    with op.batch_alter_table('ended_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_ended_sessions_expires', ['expires_at'], unique=False)

    op.create_table('control_assignments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('assignee_arn', sa.String(length=2048), nullable=False),
    sa.Column('due_at', sa.Float(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=2048), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('control_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_control_assignments_assignee', ['assignee_arn', 'status'], unique=False)
        batch_op.create_index('ix_control_assignments_control', ['assessment_id', 'control_set_id', 'control_id'], unique=False)

    op.create_table('risk_exceptions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('resource', sa.String(length=2048), nullable=True),
    sa.Column('justification', sa.String(length=1000), nullable=False),
    sa.Column('requested_by', sa.String(length=2048), nullable=False),
    sa.Column('approver_arn', sa.String(length=2048), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('decided_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('risk_exceptions', schema=None) as batch_op:
        batch_op.create_index('ix_risk_exceptions_assessment', ['assessment_id', 'status'], unique=False)
        batch_op.create_index('ix_risk_exceptions_approver', ['approver_arn', 'status'], unique=False)

    op.create_table('evidence_expiry',
    sa.Column('evidence_id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.Column('set_by', sa.String(length=2048), nullable=False),
    sa.PrimaryKeyConstraint('evidence_id')
    )
    with op.batch_alter_table('evidence_expiry', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_expiry_control', ['assessment_id', 'control_set_id', 'control_id'], unique=False)


def downgrade() -> None:
    op.drop_table('evidence_expiry')
    op.drop_table('risk_exceptions')
    op.drop_table('control_assignments')
    op.drop_table('ended_sessions')
