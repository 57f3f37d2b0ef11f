"""The scheduler over a real store: which periods it states, once, however often it runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import SetClock
from services.statements.business import Business
from services.statements.documents import StatementRenderer
from services.statements.issuing import Issuer
from services.statements.scheduler import Scheduler
from services.statements.tables import statements as statement_rows
from shared.account_events import AccountEvent
from tests.statements.harness import AFTER_NOVEMBER, AUCKLAND, SENDER, Books
from tests.statements.store import apply, migrated
from tests.support.naming import unique

ISSUER = Issuer(StatementRenderer(Business("Kauri Hardware Ltd")), AUCKLAND, SENDER)


def scheduler(
    engine: AsyncEngine,
    *,
    catch_up_days: int = 45,
    delay_s: float = 900,
    issuer: Issuer = ISSUER,
) -> Scheduler:
    return Scheduler(
        engine,
        issuer,
        SetClock(AFTER_NOVEMBER),
        close_delay=timedelta(seconds=delay_s),
        catch_up_days=catch_up_days,
        accounts_per_pass_max=2,
        interval_s=60,
    )


async def test_long_stopped_worker_catches_up_the_recent_periods_only(database_url: str) -> None:
    books, number = Books(), unique("ACC-")
    opened = datetime(2026, 1, 3, 9, tzinfo=AUCKLAND)
    events: list[AccountEvent] = [books.opened(number, at=opened)]
    for month in range(1, 12):
        at = datetime(2026, month, 10, 9, tzinfo=AUCKLAND)
        events.append(books.posted(number, "charge", "10.00", at, f"S-{month}"))
    async with migrated(database_url) as engine:
        await apply(engine, events, opened)
        now = AFTER_NOVEMBER.replace(hour=0, minute=20)

        made = await scheduler(engine).make_due_statements(now)
        again = await scheduler(engine).make_due_statements(now + timedelta(hours=1))
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        statement_rows.c.period_start,
                        statement_rows.c.period_end,
                        statement_rows.c.opening_balance,
                    ).order_by(statement_rows.c.period_end)
                )
            ).all()

    # 45 days back from 30 Nov reach 16 Oct: October and November, none before.
    assert made == 2 and again == 0
    assert [(r.period_start, r.period_end) for r in rows] == [
        (date(2026, 10, 1), date(2026, 10, 31)),
        (date(2026, 11, 1), date(2026, 11, 30)),
    ]
    assert rows[1].opening_balance == 100 * 10**4  # ten charges carried forward


async def test_period_is_not_stated_until_the_close_delay_has_passed(database_url: str) -> None:
    books, number = Books(), unique("ACC-")
    at = datetime(2026, 11, 30, 23, 50, tzinfo=AUCKLAND)
    events: list[AccountEvent] = [
        books.opened(number, at=at),
        books.posted(number, "charge", "1.00", at, "S-1"),
    ]
    midnight = datetime(2026, 12, 1, tzinfo=AUCKLAND)
    async with migrated(database_url) as engine:
        await apply(engine, events, at)
        many = [scheduler(engine, delay_s=900) for _ in range(3)]

        early = await many[0].make_due_statements(midnight + timedelta(minutes=14))
        made = [await s.make_due_statements(midnight + timedelta(minutes=15)) for s in many]

    assert early == 0
    assert made == [1, 0, 0]


async def test_account_whose_statement_cannot_be_made_holds_up_no_other(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "subject.txt").write_text(
        "{% if account.name == 'Broken Ltd' %}{{ no_such_thing }}{% endif %}Statement"
    )
    renderer = StatementRenderer(Business("Kauri Hardware Ltd"), tmp_path)
    picky = Issuer(renderer, AUCKLAND, SENDER)
    books = Books()
    at = datetime(2026, 11, 10, 9, tzinfo=AUCKLAND)
    base = unique("ACC-")
    numbers = [f"{base}-{n}" for n in range(3)]
    events: list[AccountEvent] = []
    for index, number in enumerate(numbers):
        name = "Broken Ltd" if index == 1 else "Fine Ltd"
        events += [
            books.opened(number, at=at, name=name),
            books.posted(number, "charge", "5.00", at, "S-1"),
        ]
    async with migrated(database_url) as engine:
        await apply(engine, events, at)
        made = await scheduler(engine, issuer=picky).make_due_statements(AFTER_NOVEMBER)
        async with engine.connect() as conn:
            stated = (await conn.execute(select(statement_rows.c.account_number))).scalars()
            stated_numbers = sorted(stated)

    assert made == 2
    assert stated_numbers == [numbers[0], numbers[2]]
