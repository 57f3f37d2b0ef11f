"""The overdue hold and unused credits, through a worker whose clock the test moves.

A batch of charges loads only each account's credits and the due date of its oldest debit;
these tests check that this is enough to decide and post exactly as a full load would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from services.common.clock import SetClock
from services.common.database import create_engine
from services.common.messages import Record
from services.common.migrations import upgrade_to_head
from services.common.settings import RuntimeSettings
from services.credit import repository
from services.credit.app import SPEC
from shared.topics import ACCOUNT_COMMANDS, ACCOUNT_EVENTS, CREDIT_DECISIONS, POS_SALES
from tests.credit.test_delivery_properties import Published, _pipeline
from tests.credit.test_ledger_commands import command, entry_for
from tests.support.credit import Harness, authorize, open_account
from tests.support.kafka import Collector, Producer
from tests.support.naming import unique
from tests.support.workers import running_worker

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
async def clock() -> SetClock:
    return SetClock(START)


@pytest.fixture
async def credit_at(
    settings: RuntimeSettings, database_url: str, clock: SetClock
) -> AsyncIterator[Harness]:
    async with running_worker(SPEC, settings, database_url, clock=clock) as worker:
        producer = Producer(settings.kafka_bootstrap_servers)
        await producer.start()
        topics = [settings.topic(t) for t in (CREDIT_DECISIONS, ACCOUNT_EVENTS)]
        topics.append(settings.topic(POS_SALES) + ".dlq")
        topics.append(settings.topic(ACCOUNT_COMMANDS) + ".dlq")
        replies = Collector(settings.kafka_bootstrap_servers, topics)
        await replies.start()
        try:
            yield Harness(settings, worker, producer, replies)
        finally:
            await replies.stop()
            await producer.stop()


async def decide(credit: Harness, account: str, amount: str) -> dict[str, object]:
    sale = authorize(account, amount)
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    return decision


async def ledger(credit: Harness, account: str) -> tuple[Decimal, Decimal, Decimal]:
    """The stored balance, the sum of the entries and the sum of the open items."""
    async with credit.worker.engine.connect() as conn:
        stored = await repository.find_account(conn, account)
        entries = await repository.account_entries(conn, account)
        items = await repository.account_open_items(conn, account)
    assert stored is not None
    return (
        stored.balance,
        sum((e.amount for e in entries), Decimal(0)),
        sum((i.open_amount for i in items), Decimal(0)),
    )


async def test_a_charge_past_its_hold_declines_until_it_is_paid(
    credit_at: Harness, clock: SetClock
) -> None:
    number = unique("ACC-")
    await credit_at.open(open_account(number, credit_period_days=30, overdue_hold_days=5))
    assert (await decide(credit_at, number, "100.00"))["decision"] == "approved"
    # Due on day 30: on day 35 it is 5 days late, within the hold.
    clock.advance(timedelta(days=35))
    assert (await decide(credit_at, number, "10.00"))["decision"] == "approved"
    # On day 36 the first charge is 6 days late: no more credit.
    clock.advance(timedelta(days=1))
    refused = await decide(credit_at, number, "10.00")
    assert refused["decision"] == "declined"
    assert refused["reason"] == "overdue_hold"
    # Paying the late charge lifts the hold; the later charge is not yet due.
    await credit_at.command(
        command("record_payment", number, payment_id=unique("P-"), amount="100.00", method="eft")
    )
    await entry_for(credit_at, number, "payment")
    assert (await decide(credit_at, number, "10.00"))["decision"] == "approved"
    balance, entries, items = await ledger(credit_at, number)
    assert balance == entries == items == Decimal("20.00")


async def test_unused_credit_is_consumed_by_the_next_charges(credit_at: Harness) -> None:
    number = unique("ACC-")
    await credit_at.open(open_account(number))
    await credit_at.command(
        command("record_payment", number, payment_id=unique("P-"), amount="50.00", method="eft")
    )
    [payment] = await entry_for(credit_at, number, "payment")
    assert payment["balance_after"] == "-50.00"
    assert (await decide(credit_at, number, "30.00"))["decision"] == "approved"
    assert (await decide(credit_at, number, "30.00"))["decision"] == "approved"
    async with credit_at.worker.engine.connect() as conn:
        items = await repository.account_open_items(conn, number)
    # The credit went on the first charge and 20.00 of the second; 10.00 is left open.
    assert sorted(i.open_amount for i in items) == [Decimal("10.00")]
    balance, entries, open_total = await ledger(credit_at, number)
    assert balance == entries == open_total == Decimal("10.00")


async def test_a_void_lifting_the_hold_lets_a_charge_in_the_same_batch_through(
    database_url: str,
) -> None:
    """A void loads only its own sale's debit; the hold must still see that debit closed
    when a later sale of the same batch asks whether the account is overdue."""
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine, SPEC.migrations, SPEC.version_table)
        published = Published()
        clock = SetClock(START)
        pipeline = _pipeline(engine, published, clock)
        number = unique("ACC-")
        opening = open_account(number, credit_period_days=30, overdue_hold_days=5)
        await pipeline.handle([_record(ACCOUNT_COMMANDS, number, opening)])
        late = authorize(number, "100.00")
        await pipeline.handle([_record(POS_SALES, number, late)])
        # Day 36: the charge, due on day 30, is 6 days late.
        clock.advance(timedelta(days=36))
        void = {**late, "event_id": unique("e-"), "stage": "voided"}
        sale = authorize(number, "10.00")
        await pipeline.handle([_record(POS_SALES, number, void), _record(POS_SALES, number, sale)])
        decisions = [
            orjson.loads(m.value) for m in published.messages if m.topic == CREDIT_DECISIONS
        ]
        [decision] = [d for d in decisions if d["request_event_id"] == sale["event_id"]]
        assert decision["decision"] == "approved"
    finally:
        await engine.dispose()


def _record(topic: str, key: str, value: dict[str, object]) -> Record:
    return Record(topic, 0, 0, key.encode(), orjson.dumps(value))
