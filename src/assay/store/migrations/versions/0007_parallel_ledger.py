"""The ledger takes parallel appends: seals cover batches (link order, position range, batch
root), and record positions are reserved from a counter.

Existing seals become format 1: each covers the records after the previous seal, and its chain
hash is both the batch root and the chain over batches, exactly as it was signed.

Revision ID: 0007
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_seals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('first_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('batch_root', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('format', sa.Integer(), nullable=True))
    op.create_table('ledger_counters',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )

    conn = op.get_bind()
    seals = sa.table('ledger_seals', sa.column('seq', sa.BigInteger), sa.column('chain_hash'),
                     sa.column('link', sa.BigInteger), sa.column('first_seq', sa.BigInteger),
                     sa.column('batch_root'), sa.column('format', sa.Integer))
    previous, link = 0, 0
    for seq, chain_hash in conn.execute(sa.select(seals.c.seq, seals.c.chain_hash)
                                        .order_by(seals.c.seq)).all():
        link += 1
        conn.execute(seals.update().where(seals.c.seq == seq).values(
            link=link, first_seq=previous + 1, batch_root=chain_hash, format=1))
        previous = seq
    evidence = sa.table('evidence', sa.column('seq', sa.BigInteger))
    records = conn.execute(sa.select(sa.func.count()).select_from(evidence)).scalar_one()
    top = conn.execute(sa.select(sa.func.max(evidence.c.seq))).scalar() or 0
    counters = sa.table('ledger_counters', sa.column('name'), sa.column('value', sa.BigInteger))
    conn.execute(counters.insert().values(name='seq', value=max(top, previous)))
    instance = sa.table('instance', sa.column('name'), sa.column('value', sa.JSON))
    head = conn.execute(sa.select(instance.c.value).where(instance.c.name == 'ledger_head')).first()
    if head is not None:
        value = dict(head.value)
        value.update(link=link, records=records)
        conn.execute(instance.update().where(instance.c.name == 'ledger_head').values(value=value))

    with op.batch_alter_table('ledger_seals', schema=None) as batch_op:
        batch_op.alter_column('link', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('first_seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('batch_root', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('format', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_ledger_seals_link', ['link'])


def downgrade() -> None:
    op.drop_table('ledger_counters')
    with op.batch_alter_table('ledger_seals', schema=None) as batch_op:
        batch_op.drop_constraint('uq_ledger_seals_link', type_='unique')
        batch_op.drop_column('format')
        batch_op.drop_column('batch_root')
        batch_op.drop_column('first_seq')
        batch_op.drop_column('link')
