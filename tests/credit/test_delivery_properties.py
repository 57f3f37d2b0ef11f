"""Property: whatever the batching and however often a message is delivered again, every
balance is the sum of its entries, a restricted account never goes over its limit, and a
message has one effect (its replies are the same each time).

The real pipeline and credit handlers run on a real SQLite database, and on PostgreSQL; only
Kafka is replaced by a list that records what would be published (the broker is exercised by
the other tests).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.clock import SetClock
from services.common.database import create_engine
from services.common.inbox import Inbox
from services.common.messages import Outgoing, Record
from services.common.metrics import Metrics
from services.common.migrations import upgrade_to_head
from services.common.pipeline import Pipeline
from services.credit.app import SPEC
from services.credit.consumers import AccountCommands, SaleEvents
from services.credit.handlers import CreditHandlers
from services.credit.repository import dangling_references
from services.credit.settings import default_rating_limits
from services.credit.tables import accounts, entries
from shared.money import from_minor
from shared.topics import ACCOUNT_COMMANDS, CREDIT_DECISIONS, POS_SALES
from tests.conftest import create_postgres_database
from tests.support.credit import authorize, open_account
from tests.support.naming import unique

LIMIT = Decimal("100.00")
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60.00"), places=2)
# Each step: a new sale (account index, amount), or a redelivery of an earlier record.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("sale"), st.integers(0, 2), amounts),
        st.tuples(st.just("void"), st.integers(0, 50), st.just(Decimal("0"))),
        st.tuples(st.just("again"), st.integers(0, 50), st.just(Decimal("0"))),
    ),
    min_size=1,
    max_size=40,
)
batch_sizes = st.lists(st.integers(1, 7), min_size=1, max_size=10)


class Published:
    """Stands in for Kafka: keeps what the pipeline publishes."""

    def __init__(self) -> None:
        self.messages: list[Outgoing] = []

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        self.messages.extend(messages)


def _pipeline(engine: AsyncEngine, published: Published, clock: SetClock) -> Pipeline:
    handlers = CreditHandlers(ZoneInfo("Pacific/Auckland"), default_rating_limits())
    return Pipeline(
        consumer_group="tabs-credit",
        engine=engine,
        handlers={POS_SALES: SaleEvents(handlers), ACCOUNT_COMMANDS: AccountCommands(handlers)},
        inbox=Inbox(SPEC.tables),
        publish=published,
        clock=clock,
        metrics=Metrics("credit"),
    )


def _records(plan: list[tuple[str, int, Decimal]], numbers: list[str]) -> list[Record]:
    sent: list[Record] = []
    sales: list[dict[str, Any]] = []
    for kind, index, amount in plan:
        if kind == "sale":
            sale = authorize(numbers[index], str(amount))
            sales.append(sale)
            sent.append(
                Record(POS_SALES, 0, len(sent), numbers[index].encode(), orjson.dumps(sale))
            )
        elif kind == "void" and sales:
            original = sales[index % len(sales)]
            void = {**original, "event_id": unique("e-"), "stage": "voided"}
            sent.append(
                Record(
                    POS_SALES, 0, len(sent), original["account_number"].encode(), orjson.dumps(void)
                )
            )
        elif kind == "again" and sent:
            sent.append(sent[index % len(sent)])
    return sent


def _batches(records: list[Record], sizes: list[int]) -> list[list[Record]]:
    out: list[list[Record]] = []
    at = 0
    while at < len(records):
        size = sizes[len(out) % len(sizes)]
        out.append(records[at : at + size])
        at += size
    return out


async def _run(database: str, plan: list[tuple[str, int, Decimal]], sizes: list[int]) -> None:
    if database.startswith("postgres-server:"):
        # A new database on that server for each example.
        database = await create_postgres_database(database.removeprefix("postgres-server:"))
    engine = create_engine(database)
    try:
        await upgrade_to_head(engine, SPEC.migrations, SPEC.version_table)
        published = Published()
        clock = SetClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
        pipeline = _pipeline(engine, published, clock)
        numbers = [unique("ACC-") for _ in range(3)]
        opened = [
            Record(
                ACCOUNT_COMMANDS, 0, i, n.encode(), orjson.dumps(open_account(n, limit=str(LIMIT)))
            )
            for i, n in enumerate(numbers)
        ]
        await pipeline.handle(opened)
        for batch in _batches(_records(plan, numbers), sizes):
            # Time moves between batches, so a decision made again would differ from the
            # stored one: a repeat must get the stored reply, not a new decision.
            clock.advance(timedelta(seconds=1))
            await pipeline.handle(batch)
        await _check(engine, published, numbers)
    finally:
        await engine.dispose()


async def _check(engine: AsyncEngine, published: Published, numbers: list[str]) -> None:
    replies: dict[str, set[bytes]] = defaultdict(set)
    for message in published.messages:
        if message.topic == CREDIT_DECISIONS:
            replies[orjson.loads(message.value)["request_event_id"]].add(message.value)
    # Every input is valid: nothing may end in the dead letters.
    assert not [m for m in published.messages if m.topic.endswith(".dlq")]
    # One effect per message: every delivery got the very same decision.
    assert all(len(distinct) == 1 for distinct in replies.values())
    decisions = [orjson.loads(v) for values in replies.values() for v in values]
    async with engine.connect() as conn:
        for number in numbers:
            mine = entries.c.account_number == number
            balance = await _number(
                conn, select(accounts.c.balance).where(accounts.c.account_number == number)
            )
            total = await _number(
                conn, select(func.coalesce(func.sum(entries.c.amount), 0)).where(mine)
            )
            charges = await _number(
                conn,
                select(func.count()).select_from(entries).where(mine, entries.c.kind == "charge"),
            )
            approved = {
                d["sale_id"]
                for d in decisions
                if d["decision"] == "approved" and d["account_number"] == number
            }
            assert balance == total
            assert from_minor(balance) <= LIMIT
            assert charges == len(approved)
        # No foreign keys hold the ledger's rows to their accounts and entries (tables.py).
        assert await dangling_references(conn) == []


async def _number(conn: AsyncConnection, query: Any) -> int:
    value = await conn.scalar(query)
    assert value is not None
    return int(value)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=steps, sizes=batch_sizes)
def test_redelivery_and_batching_never_break_the_ledger(
    tmp_path: Path, plan: list[tuple[str, int, Decimal]], sizes: list[int]
) -> None:
    asyncio.run(_run(f"sqlite:///{tmp_path / unique('db')}.db", plan, sizes))


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=steps, sizes=batch_sizes)
def test_redelivery_and_batching_never_break_the_ledger_on_postgresql(
    postgres_server: str, plan: list[tuple[str, int, Decimal]], sizes: list[int]
) -> None:
    """The same on PostgreSQL, where a batch of sales is applied from an unlocked read and one
    guarded statement (and a batch mixing commands and sales with locks)."""
    asyncio.run(_run(f"postgres-server:{postgres_server}", plan, sizes))
