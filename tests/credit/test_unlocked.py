"""Batches of sales applied without locks (PostgreSQL): one unlocked read, one guarded statement.

They must have exactly the effect the locking path has, and when another writer gets between
the read and the write (another worker after a rebalance, a back-office command), nothing may
be written and the batch must be applied again with locks, seeing that writer's effect. The
other writer here is real: a second pipeline on the same database, run by a subclass of the
real sales handler at the moment between its read and the pipeline's write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.database import create_engine
from services.common.inbox import Inbox
from services.common.migrations import upgrade_to_head
from services.credit import repository
from services.credit.app import SPEC
from services.credit.tables import entries, sale_charges
from services.credit.unit_of_work import CreditUnitOfWork, Settling
from shared.topics import POS_SALES
from tests.conftest import create_postgres_database
from tests.support.credit import authorize, open_account
from tests.support.credit_pipeline import Worker
from tests.support.naming import unique


async def _database(postgres_server: str) -> AsyncEngine:
    engine = create_engine(await create_postgres_database(postgres_server))
    await upgrade_to_head(engine, SPEC.migrations, SPEC.version_table)
    return engine


@pytest.fixture
async def engine(postgres_server: str) -> AsyncIterator[AsyncEngine]:
    engine = await _database(postgres_server)
    yield engine
    await engine.dispose()


async def ledger(engine: AsyncEngine, number: str) -> tuple[Decimal, Decimal, int]:
    """The account's balance, the sum of its entries and its number of sale charges."""
    async with engine.connect() as conn:
        account = await repository.find_account(conn, number)
        assert account is not None
        total = await conn.scalar(
            select(func.coalesce(func.sum(entries.c.amount), 0)).where(
                entries.c.account_number == number
            )
        )
        charged = await conn.scalar(
            select(func.count()).where(sale_charges.c.account_number == number)
        )
    return account.balance, Decimal(int(total or 0)) / 10_000, int(charged or 0)


def void(sale: dict[str, Any]) -> dict[str, Any]:
    return {**sale, "event_id": unique("e-"), "stage": "voided"}


async def test_a_batch_has_the_same_effect_unlocked_as_with_locks(postgres_server: str) -> None:
    """The same batches on two databases, one worker unlocked, one locking: the very same
    messages out, the same balances, and the unlocked one never fell back."""
    numbers = [unique("ACC-") for _ in range(3)]
    opened = [open_account(n, limit="100.00") for n in numbers]
    first = [authorize(numbers[0], "40.00"), authorize(numbers[1], "120.00")]
    member = unique("MEM-")
    opened_member = open_account(member, limit="100.00")
    add_member = {
        "command_id": unique("c-"),
        "issued_at": "2026-11-22T09:00:00+13:00",
        "issued_by": "back-office",
        "type": "add_member",
        "account_number": numbers[2],
        "member_account_number": member,
        "funding": "full",
    }
    second = [
        authorize(numbers[0], "70.00"),  # 110.00 would be over the limit
        void(first[0]),
        authorize(numbers[2], "30.00"),
        authorize(numbers[2], "30.00"),
        authorize(unique("NOBODY-"), "1.00"),
    ]
    third = [authorize(numbers[0], "70.00"), first[1], authorize(member, "10.00")]
    engines = [await _database(postgres_server) for _ in range(2)]
    try:
        workers = [
            Worker(engines[0], unlocked_reads=True),
            Worker(engines[1], unlocked_reads=False),
        ]
        for worker in workers:
            await worker.handle(*opened, opened_member)
            await worker.handle(add_member)
            for batch in (first, second, third):
                await worker.handle(*batch)
        unlocked, locking = workers
        assert [m.value for m in unlocked.published.messages] == [
            m.value for m in locking.published.messages
        ]
        decided = {d["request_event_id"]: d for d in unlocked.published.decisions()}
        outcomes = {
            "first[0]": (first[0], "approved", "40.00"),
            "first[1]": (first[1], "declined", "0.00"),
            "second[0]": (second[0], "declined", "40.00"),
            "second[2]": (second[2], "approved", "30.00"),
            "second[3]": (second[3], "approved", "60.00"),
            "third[0]": (third[0], "approved", "70.00"),
            "third[2], the member's, on its parent": (third[2], "approved", "70.00"),
        }
        for what, (sale, decision, balance) in outcomes.items():
            assert (
                decided[sale["event_id"]]["decision"],
                decided[sale["event_id"]]["balance"],
            ) == (
                decision,
                balance,
            ), what
        assert decided[second[4]["event_id"]]["reason"] == "account_not_found"
        for number in [*numbers, member]:
            assert await ledger(engines[0], number) == await ledger(engines[1], number)
        assert unlocked.retries("contended") == 0
    finally:
        for engine in engines:
            await engine.dispose()


async def test_another_writer_between_the_read_and_the_write_sends_the_batch_to_the_locks(
    engine: AsyncEngine,
) -> None:
    """Between this worker's unlocked read and its write, another charges the same account:
    nothing of the first attempt is written, and the batch, applied again with locks, sees
    the other charge and declines what would go over the limit."""
    number = unique("ACC-")
    worker, other = Worker(engine), Worker(engine)
    await worker.handle(open_account(number, limit="100.00"))
    theirs, mine = authorize(number, "50.00"), authorize(number, "60.00")

    async def another_charge() -> None:
        await other.handle(theirs)

    worker.sales.meanwhile = another_charge
    await worker.handle(mine)
    assert worker.sales.meanwhile is None, "the other writer ran"
    assert other.published.decisions()[0]["decision"] == "approved"
    decision = worker.published.decisions()[0]
    assert (decision["decision"], decision["balance"]) == ("declined", "50.00")
    assert await ledger(engine, number) == (Decimal("50.00"), Decimal("50.00"), 1)
    assert worker.retries("contended") == 1


async def test_an_account_only_read_is_guarded_too(engine: AsyncEngine) -> None:
    """A sale declined on an unlocked read of its account, while a payment makes room: the
    decline was decided on a balance that no longer is, so it is not kept; with locks, the
    sale is approved."""
    number = unique("ACC-")
    worker, other = Worker(engine), Worker(engine)
    await worker.handle(open_account(number, limit="100.00"))
    await worker.handle(authorize(number, "90.00"))
    payment = {
        "command_id": unique("c-"),
        "issued_at": "2026-11-22T09:00:00+13:00",
        "issued_by": "back-office",
        "type": "record_payment",
        "account_number": number,
        "payment_id": unique("P-"),
        "amount": "90.00",
        "method": "bank_transfer",
    }

    async def a_payment() -> None:
        await other.handle(payment)

    worker.sales.meanwhile = a_payment
    sale = authorize(number, "50.00")
    await worker.handle(sale)
    decision = worker.published.decisions()[-1]
    assert decision["request_event_id"] == sale["event_id"]
    assert (decision["decision"], decision["balance"]) == ("approved", "50.00")
    assert await ledger(engine, number) == (Decimal("50.00"), Decimal("50.00"), 2)
    assert worker.retries("contended") == 1


async def test_a_sale_claimed_meanwhile_gets_the_stored_decision_and_one_charge(
    engine: AsyncEngine,
) -> None:
    """The same record applied by another worker (a rebalance) between this one's read and
    write: this worker's claim fails, nothing of it is written, and the locking path finds the
    other's stored decision and publishes it again."""
    number = unique("ACC-")
    worker, other = Worker(engine), Worker(engine)
    await worker.handle(open_account(number, limit="100.00"))
    sale = authorize(number, "60.00")

    async def the_same_sale() -> None:
        await other.handle(sale)

    worker.sales.meanwhile = the_same_sale
    await worker.handle(sale)
    assert worker.published.decisions() == other.published.decisions()
    assert await ledger(engine, number) == (Decimal("60.00"), Decimal("60.00"), 1)
    assert worker.retries("contended") == 1


async def test_an_unlocked_read_loads_what_the_locked_one_does(engine: AsyncEngine) -> None:
    """Accounts (with a group's parent and an overdue hold), charges, credits and the debits of
    the sales a void names: the unlocked read's books equal the locking path's."""
    worker = Worker(engine)
    parent, member, held = (unique(p) for p in ("PAR-", "MEM-", "HOLD-"))
    await worker.handle(
        open_account(parent, limit="1000.00"),
        open_account(member, limit="1000.00"),
        open_account(held, limit="1000.00", overdue_hold_days=5),
    )
    await worker.handle(
        {
            "command_id": unique("c-"),
            "issued_at": "2026-11-22T09:00:00+13:00",
            "issued_by": "back-office",
            "type": "add_member",
            "account_number": parent,
            "member_account_number": member,
            "funding": "full",
        }
    )
    sales = [authorize(member, "10.00"), authorize(held, "20.00"), authorize(held, "30.00")]
    await worker.handle(*sales)
    await worker.handle(void(sales[2]))  # a credit note's worth of credit... then used
    names = [member, held]
    sale_ids = [s["sale_id"] for s in sales] + [unique("S-")]
    settling = Settling(frozenset([held]), frozenset([sales[1]["sale_id"]]), whole_books=False)
    inbox = Inbox(SPEC.tables)
    event_ids = [s["event_id"] for s in sales] + [unique("e-")]
    async with engine.connect() as conn:
        unlocked, stored = await CreditUnitOfWork.read_unlocked(
            conn, names, sale_ids, settling, inbox.claims(POS_SALES, event_ids)
        )
    async with engine.begin() as conn:
        locked = await CreditUnitOfWork.load(conn, names, sale_ids, charges_only_but=settling)
        found = await inbox.find(conn, [(POS_SALES, e) for e in event_ids])
    # The claims, found in the same statement: the three sales applied, with their replies.
    assert stored == {message_id: replies for (_, message_id), replies in found.items()}
    assert set(stored) == set(event_ids[:3])
    assert all(stored[s["event_id"]] for s in sales)
    assert set(unlocked.books) == set(locked.books) == {parent, member, held}
    for number, book in locked.books.items():
        mine = unlocked.books[number]
        assert mine.account == book.account
        assert sorted(mine.items, key=lambda i: i.item_id) == sorted(
            book.items, key=lambda i: i.item_id
        )
        assert mine.oldest_debit_due == book.oldest_debit_due
        assert mine.complete == book.complete
    assert unlocked.sale_charges == locked.sale_charges
    assert len(unlocked.sale_charges) == 3
    assert unlocked.books[held].oldest_debit_due is None  # its only other debit was voided
    assert [i.reference for i in unlocked.books[held].items if i.open_amount > 0] == [
        sales[1]["sale_id"]
    ]
