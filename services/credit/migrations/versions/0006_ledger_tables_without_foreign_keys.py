"""the ledger's hot tables without foreign keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 01:00:00.000000

Every charge inserted a row into entries, open_items and sale_charges, and each of their five
foreign keys ran a trigger per row (a query that locks the referenced row FOR KEY SHARE): two
thirds of PostgreSQL's CPU per sale, measured (docs/performance.md). The one writer of these
rows, the credit worker, makes an entry, its open item and its sale charge together in the
transaction that holds the account's row lock; the tests and the bench's ledger check assert
that nothing refers to a missing account or entry.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table, referred column), referring tables before referred ones:
# SQLite rebuilds a table to drop a key, and `entries` is referred to by the two others.
_KEYS = [
    ("sale_charges", "account_number", "accounts", "account_number"),
    ("sale_charges", "entry_id", "entries", "entry_id"),
    ("open_items", "account_number", "accounts", "account_number"),
    ("open_items", "item_id", "entries", "entry_id"),
    ("entries", "account_number", "accounts", "account_number"),
]
# The names PostgreSQL gave them; SQLite's are unnamed, and get these through the convention.
_CONVENTION = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def _tables() -> list[str]:
    return list(dict.fromkeys(table for table, *_ in _KEYS))


def upgrade() -> None:
    for table in _tables():
        with op.batch_alter_table(table, naming_convention=_CONVENTION) as batch:
            for _, column, _, _ in (key for key in _KEYS if key[0] == table):
                batch.drop_constraint(f"{table}_{column}_fkey", type_="foreignkey")


def downgrade() -> None:
    for table in reversed(_tables()):
        with op.batch_alter_table(table, naming_convention=_CONVENTION) as batch:
            for _, column, referred, referred_column in (key for key in _KEYS if key[0] == table):
                batch.create_foreign_key(
                    f"{table}_{column}_fkey", referred, [column], [referred_column]
                )
