"""accounts.version: one more with every write of an account's row, so with every change to its view

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 11:00:00.000000

The read model in Redis is refreshed after each commit by whichever worker committed, and
rebuilt by a worker when it starts. Two workers could write one account's view in the wrong
order (a view read before another's commit written after that commit's own refresh), leaving
Redis stale until the account changed again. Each view now carries its account's version, and
Redis keeps a view only over an older one (services/common/read_model.py). Every change to an
account's ledger writes its row (services/credit/unit_of_work.py), so the version covers the
open items too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("version", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("version")
