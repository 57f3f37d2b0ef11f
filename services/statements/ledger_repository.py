"""Accounts and their entries in the statements store, and the scheduler's cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.statements.domain.ledger import Entry
from services.statements.domain.schedule import Frequency, Period
from services.statements.domain.statement import StatedAccount
from services.statements.tables import statement_accounts, statement_entries
from shared.money import from_minor


@dataclass(frozen=True)
class AccountRecord:
    number: str
    name: str
    currency: str
    status: str
    credit_period_days: int
    frequency: Frequency
    statement_email: str
    opened_at: datetime
    next_period: Period | None

    @property
    def stated(self) -> StatedAccount:
        return StatedAccount(self.number, self.name, self.currency, self.credit_period_days)


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime from the database: SQLite hands back the naive UTC we stored."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


async def find_account(
    conn: AsyncConnection, number: str, *, for_update: bool = False
) -> AccountRecord | None:
    query = select(statement_accounts).where(statement_accounts.c.account_number == number)
    if for_update and conn.dialect.name == "postgresql":
        # The scheduler skips an account a request holds, and the other way round waits.
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return _account(row) if row is not None else None


async def due_account_numbers(
    conn: AsyncConnection, through: date, after: str, limit: int
) -> list[str]:
    """Accounts after `after` (in account order) with a period ending on or before `through`
    still to state."""
    table = statement_accounts
    rows = await conn.execute(
        select(table.c.account_number)
        .where(_due(through), table.c.account_number > after)
        .order_by(table.c.account_number)
        .limit(limit)
    )
    return [row.account_number for row in rows]


async def lock_if_due(conn: AsyncConnection, number: str, through: date) -> AccountRecord | None:
    """The account, locked for this transaction, if it still has a period to state. On
    PostgreSQL an account another worker holds is skipped (None), so replicas share the work;
    SQLite has one writer at a time, which serialises them anyway."""
    table = statement_accounts
    query = select(table).where(table.c.account_number == number, _due(through))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = (await conn.execute(query)).mappings().first()
    return _account(row) if row is not None else None


def _due(through: date) -> ColumnElement[bool]:
    table = statement_accounts
    return or_(table.c.next_period_end.is_(None), table.c.next_period_end <= through)


async def move_cursor(
    conn: AsyncConnection, number: str, expected_end: date | None, period: Period
) -> bool:
    """Sets the next period to state, if nobody moved it since it was read."""
    table = statement_accounts
    current = (
        table.c.next_period_end.is_(None)
        if expected_end is None
        else table.c.next_period_end == expected_end
    )
    result = await conn.execute(
        update(table)
        .where(table.c.account_number == number, current)
        .values(next_period_start=period.start, next_period_end=period.end)
    )
    return result.rowcount == 1


async def ledger(conn: AsyncConnection, number: str) -> list[Entry]:
    """Every entry of the account, in ledger order."""
    table = statement_entries
    rows = await conn.execute(
        select(table)
        .where(table.c.account_number == number)
        .order_by(table.c.position, table.c.posted_at, table.c.entry_id)
    )
    return [
        Entry(
            entry_id=row.entry_id,
            kind=row.kind,
            amount=from_minor(row.amount),
            posted_at=utc(row.posted_at),
            reference=row.reference,
            due_date=row.due_date,
            member_account_number=row.member_account_number,
        )
        for row in rows
    ]


def _account(row: Any) -> AccountRecord:
    start, end = row["next_period_start"], row["next_period_end"]
    return AccountRecord(
        number=row["account_number"],
        name=row["name"],
        currency=row["currency"],
        status=row["status"],
        credit_period_days=row["credit_period_days"],
        frequency=Frequency(
            row["settlement_every"], row["settlement_unit"], row["settlement_anchor"]
        ),
        statement_email=row["statement_email"],
        opened_at=utc(row["opened_at"]),
        next_period=Period(start, end) if start is not None and end is not None else None,
    )
