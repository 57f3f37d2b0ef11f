"""tabs_expect_rows: the guard of writes made without row locks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00.000000

A batch of sales can be applied without a transaction around its reads: one unlocked read,
then one statement of writes that updates each account only if it is still at the version
read (its xmin) and checks that the accounts it only read are unchanged. This function, called
at the end of that statement, fails it with a serialization failure (40001) when they are not,
so that nothing is written and the pipeline applies the batch again on the locking path
(services/common/bulk.py, Writes). PostgreSQL only: SQLite always takes the locking path.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As services/common/bulk.py has it (EXPECT_ROWS_FUNCTION), frozen here.
_FUNCTION = """
CREATE OR REPLACE FUNCTION tabs_expect_rows(matched bigint, expected bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF matched <> expected THEN
        RAISE EXCEPTION 'rows changed since they were read: % of % as read', matched, expected
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN matched;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tabs_expect_rows(bigint, bigint)")
