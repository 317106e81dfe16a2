"""invoice contests (réclamations): one row per contest of invoice lines, and its decision

Revision ID: 0009
Revises: 0001
Create Date: 2026-12-07 15:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('invoice_contest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('invoice_number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('contested_cents', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('document_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('document_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('reminded', sa.Boolean(), nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('credited', sa.JSON(), nullable=False),
    sa.Column('credited_cents', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['family_account.id'], ),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invoice_id', 'seq', name='uq_invoice_contest_seq'),
    sa.UniqueConstraint('ref')
    )
    with op.batch_alter_table('invoice_contest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_contest_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_contest_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_contest_invoice_number'), ['invoice_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_contest_status'), ['status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('invoice_contest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_contest_status'))
        batch_op.drop_index(batch_op.f('ix_invoice_contest_invoice_number'))
        batch_op.drop_index(batch_op.f('ix_invoice_contest_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_invoice_contest_account_id'))
    op.drop_table('invoice_contest')
