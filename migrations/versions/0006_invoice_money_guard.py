"""invoice money guard: one writer per family account's invoices, idempotency keys bound to their content

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-07 14:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('family_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('money_version', sa.Integer(), server_default='0', nullable=False))
    # existing accounts start at the number of money changes already recorded (their allocations)
    op.execute(
        "UPDATE family_account SET money_version = (SELECT count(*) FROM payment_allocation a "
        "JOIN payment p ON p.id = a.payment_id WHERE p.account_id = family_account.id)"
    )
    op.create_table('idempotency_key',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('idempotency_key')
    with op.batch_alter_table('family_account', schema=None) as batch_op:
        batch_op.drop_column('money_version')
