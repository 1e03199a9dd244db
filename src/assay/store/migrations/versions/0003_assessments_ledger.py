"""Assessments, review, notifications and the evidence ledger.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assessments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('collection_regions', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('framework_id', sa.String(length=36), nullable=False),
    sa.Column('framework_name', sa.String(length=300), nullable=False),
    sa.Column('framework_description', sa.Text(), nullable=True),
    sa.Column('compliance_type', sa.String(length=100), nullable=True),
    sa.Column('reports_destination', sa.JSON(), nullable=False),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=2048), nullable=False),
    sa.Column('deleted_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('change_logs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=True),
    sa.Column('control_id', sa.String(length=36), nullable=True),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_name', sa.String(length=2048), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=2048), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('change_logs', schema=None) as batch_op:
        batch_op.create_index('ix_change_logs_assessment', ['assessment_id', 'id'], unique=False)

    op.create_table('control_comments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('author_name', sa.String(length=128), nullable=False),
    sa.Column('author_arn', sa.String(length=2048), nullable=False),
    sa.Column('body', sa.String(length=500), nullable=False),
    sa.Column('posted_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('control_comments', schema=None) as batch_op:
        batch_op.create_index('ix_control_comments_control', ['assessment_id', 'control_set_id', 'control_id'], unique=False)

    op.create_table('evidence',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('folder_id', sa.String(length=36), nullable=False),
    sa.Column('time', sa.Float(), nullable=False),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.Column('appended_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_assessment', ['assessment_id', 'seq'], unique=False)
        batch_op.create_index('ix_evidence_folder', ['folder_id', 'seq'], unique=False)

    op.create_table('evidence_folders',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('data_source', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('compliant', sa.Integer(), nullable=False),
    sa.Column('noncompliant', sa.Integer(), nullable=False),
    sa.Column('inconclusive', sa.Integer(), nullable=False),
    sa.Column('configuration_data', sa.Integer(), nullable=False),
    sa.Column('manual', sa.Integer(), nullable=False),
    sa.Column('compliance_check', sa.Integer(), nullable=False),
    sa.Column('compliance_issues', sa.Integer(), nullable=False),
    sa.Column('user_activity', sa.Integer(), nullable=False),
    sa.Column('resources_included', sa.Integer(), nullable=False),
    sa.Column('report_selected', sa.Integer(), nullable=False),
    sa.Column('event_sources', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evidence_folders', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_folders_control', ['assessment_id', 'control_set_id', 'control_id', 'day'], unique=False)

    op.create_table('evidence_selection',
    sa.Column('evidence_id', sa.String(length=36), nullable=False),
    sa.Column('folder_id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('selected_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('evidence_id')
    )
    with op.batch_alter_table('evidence_selection', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_selection_folder', ['folder_id'], unique=False)

    op.create_table('ledger_seals',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('sealed_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_table('notifications',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('recipient_arn', sa.String(length=2048), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('assessment_name', sa.String(length=300), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('event_time', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('delivery_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_recipient', ['recipient_arn', 'event_time'], unique=False)

    op.create_table('uploads',
    sa.Column('file_name', sa.String(length=300), nullable=False),
    sa.Column('owner_arn', sa.String(length=2048), nullable=False),
    sa.Column('blob_hash', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('uploaded_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('file_name')
    )
    op.create_table('assessment_control_sets',
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('id', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], ),
    sa.PrimaryKeyConstraint('assessment_id', 'id')
    )
    op.create_table('assessment_controls',
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('control_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('testing_information', sa.Text(), nullable=True),
    sa.Column('action_plan_title', sa.Text(), nullable=True),
    sa.Column('action_plan_instructions', sa.Text(), nullable=True),
    sa.Column('domain_id', sa.String(length=2048), nullable=False),
    sa.Column('mapping_sources', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], ),
    sa.PrimaryKeyConstraint('assessment_id', 'control_set_id', 'control_id')
    )
    with op.batch_alter_table('assessment_controls', schema=None) as batch_op:
        batch_op.create_index('ix_assessment_controls_control', ['control_id'], unique=False)

    op.create_table('assessment_roles',
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('role_arn', sa.String(length=2048), nullable=False),
    sa.Column('role_type', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], ),
    sa.PrimaryKeyConstraint('assessment_id', 'role_arn')
    )
    op.create_table('delegations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('control_set_id', sa.String(length=300), nullable=False),
    sa.Column('role_arn', sa.String(length=2048), nullable=False),
    sa.Column('role_type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.String(length=350), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.create_index('ix_delegations_assessment', ['assessment_id'], unique=False)
        batch_op.create_index('ix_delegations_role', ['role_arn'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.drop_index('ix_delegations_role')
        batch_op.drop_index('ix_delegations_assessment')

    op.drop_table('delegations')
    op.drop_table('assessment_roles')
    with op.batch_alter_table('assessment_controls', schema=None) as batch_op:
        batch_op.drop_index('ix_assessment_controls_control')

    op.drop_table('assessment_controls')
    op.drop_table('assessment_control_sets')
    op.drop_table('uploads')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_recipient')

    op.drop_table('notifications')
    op.drop_table('ledger_seals')
    with op.batch_alter_table('evidence_selection', schema=None) as batch_op:
        batch_op.drop_index('ix_evidence_selection_folder')

    op.drop_table('evidence_selection')
    with op.batch_alter_table('evidence_folders', schema=None) as batch_op:
        batch_op.drop_index('ix_evidence_folders_control')

    op.drop_table('evidence_folders')
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index('ix_evidence_folder')
        batch_op.drop_index('ix_evidence_assessment')

    op.drop_table('evidence')
    with op.batch_alter_table('control_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_control_comments_control')

    op.drop_table('control_comments')
    with op.batch_alter_table('change_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_change_logs_assessment')

    op.drop_table('change_logs')
    op.drop_table('assessments')
