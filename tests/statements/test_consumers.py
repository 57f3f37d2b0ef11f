"""The store kept from accounts.events.v1: the schedule's cursor, entries in ledger order."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from services.statements.domain.schedule import Period
from services.statements.ledger_repository import find_account, ledger
from services.statements.tables import statement_entries
from shared.account_events import AccountChanged
from shared.terms import SettlementFrequency
from tests.statements.harness import AUCKLAND, Books
from tests.statements.store import apply, migrated
from tests.support.naming import unique

OPENED = datetime(2026, 11, 30, 23, 30, tzinfo=AUCKLAND)  # 10:30 UTC, still 30 Nov there


async def test_new_account_starts_at_the_period_of_its_opening_day(database_url: str) -> None:
    books, number = Books(), unique("ACC-")
    weekly = SettlementFrequency(every=2, unit="week", anchor=date(2026, 11, 29))
    async with migrated(database_url) as engine:
        await apply(engine, [books.opened(number, frequency=weekly, at=OPENED)], OPENED)
        async with engine.connect() as conn:
            account = await find_account(conn, number)

    assert account is not None
    # Fortnights end on Sundays from 29 Nov: 30 Nov (a Monday) starts the next one.
    assert account.next_period == Period(date(2026, 11, 30), date(2026, 12, 13))
    assert account.opened_at == OPENED


async def test_new_schedule_takes_over_from_the_next_period_to_state(database_url: str) -> None:
    books, number = Books(), unique("ACC-")
    async with migrated(database_url) as engine:
        await apply(engine, [books.opened(number, at=OPENED)], OPENED)
        weekly = SettlementFrequency(every=1, unit="week", anchor=date(2026, 11, 4))
        change = AccountChanged(
            event_id=unique("ev-"),
            occurred_at=OPENED,
            account_number=number,
            settlement_frequency=weekly,
            statement_email="ap@hammer.example",
        )
        await apply(engine, [change], OPENED)
        async with engine.connect() as conn:
            account = await find_account(conn, number)

    assert account is not None
    assert account.frequency.unit == "week"
    assert account.statement_email == "ap@hammer.example"
    # Monthly, the next period was 1-30 Nov; it keeps its start and ends on the first weekly
    # period end after it, Wednesday 4 Nov.
    assert account.next_period == Period(date(2026, 11, 1), date(2026, 11, 4))


async def test_entries_are_kept_once_in_ledger_order_at_their_instant(database_url: str) -> None:
    books, number = Books(), unique("ACC-")
    opened = books.opened(number, at=OPENED)
    first = books.posted(number, "charge", "10.00", OPENED, "S-1")
    second = books.posted(number, "payment", "-4.00", OPENED, "PAY-1")  # same batch, same time
    again = first.model_copy(update={"event_id": unique("ev-")})
    async with migrated(database_url) as engine:
        await apply(engine, [opened, first, second], OPENED)
        await apply(engine, [again], OPENED)
        async with engine.connect() as conn:
            entries = await ledger(conn, number)
            positions = (
                await conn.execute(
                    select(statement_entries.c.position)
                    .where(statement_entries.c.account_number == number)
                    .order_by(statement_entries.c.position)
                )
            ).scalars()

    assert [e.reference for e in entries] == ["S-1", "PAY-1"]
    assert list(positions) == [1, 2]
    assert entries[0].posted_at == OPENED
    assert entries[0].posted_at.astimezone(AUCKLAND).date() == date(2026, 11, 30)
