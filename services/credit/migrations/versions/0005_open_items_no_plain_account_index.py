"""open items without the plain account index; room for balance updates in account pages

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 21:15:00.000000

Every query of an account's open items asks for its open credits, its open debits, or both, and
the partial indexes of 0004 answer each (both: a bitmap OR of the two). The plain index of
account_number cost an index entry per charge for nothing. On PostgreSQL a fillfactor of 80
leaves room in each page of `accounts`, so that a balance update can stay on its page (a HOT
update) instead of adding entries to both of the table's indexes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_open_items_account_number", table_name="open_items")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE accounts SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE accounts RESET (fillfactor)")
    op.create_index("ix_open_items_account_number", "open_items", ["account_number"])
