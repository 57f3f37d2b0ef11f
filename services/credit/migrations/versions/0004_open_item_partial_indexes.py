"""partial indexes of open credits and open debits

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:10:00.000000

A charge reads only the account's unused credits, and the overdue hold only the due date of
its oldest open debit: each has an index of just those rows, so neither grows with history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREDITS = sa.text("open_amount < 0")
_DEBITS = sa.text("open_amount > 0")


def upgrade() -> None:
    op.create_index(
        "ix_open_items_open_credits",
        "open_items",
        ["account_number"],
        postgresql_where=_CREDITS,
        sqlite_where=_CREDITS,
    )
    op.create_index(
        "ix_open_items_open_debits",
        "open_items",
        ["account_number", "due_date"],
        postgresql_where=_DEBITS,
        sqlite_where=_DEBITS,
    )


def downgrade() -> None:
    op.drop_index("ix_open_items_open_debits", table_name="open_items")
    op.drop_index("ix_open_items_open_credits", table_name="open_items")
