"""Reference (b), the naive handler: one database transaction per message.

For each record: begin; look the event id up; lock the account (SELECT ... FOR UPDATE); decide
with the credit service's own rule (decide_authorization); insert the entry and the sale's
charge; update the balance; record the event id with its reply; commit; publish the reply.
Idempotent by event id and charged once per sale id, like the worker, so the two do the same
work and reach the same decisions; what differs is one transaction per message instead of one
per batch. It runs on its own tables in its own database. Offsets are not committed (that
would only cost it more).

Run as `python -m bench.naive ...` by the harness, in its own process like a worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.references import Window, assigned_reader, parse_offsets, reader_arguments
from services.common.database import create_engine
from services.common.ids import derived_id
from services.credit.domain.accounts import Account, SettlementFrequency
from services.credit.domain.decisions import Approved, Declined, decide_authorization
from services.credit.messages import decision_reply
from shared.money import from_minor, to_minor
from shared.sales import SaleEvent

POLL_RECORDS_MAX = 500

metadata = MetaData()
accounts = Table(
    "naive_accounts",
    metadata,
    Column("account_number", String(64), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("credit_limit", BigInteger, nullable=False),
    Column("restrict_credit", Boolean, nullable=False),
    Column("balance", BigInteger, nullable=False),
)
entries = Table(
    "naive_entries",
    metadata,
    Column("entry_id", String(200), primary_key=True),
    Column("account_number", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reference", String(200), nullable=False),
)
sale_charges = Table(
    "naive_sale_charges",
    metadata,
    Column("sale_id", String(200), primary_key=True),
    Column("account_number", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reversed", Boolean, nullable=False),
)
processed = Table(
    "naive_processed",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("reply", LargeBinary, nullable=False),  # empty: the message has no reply
)


async def prepare(engine: AsyncEngine, rows: Iterable[dict[str, object]]) -> None:
    """Creates the tables and the accounts (number, currency, status, limit, restrict,
    balance in ten-thousandths), as the credit database has them when the backlog starts."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        values = list(rows)
        if values:
            await conn.execute(insert(accounts), values)


def _account(row: Row[tuple[object, ...]]) -> Account:
    m = row._mapping
    return Account(
        number=m["account_number"],
        name="-",
        currency=m["currency"],
        status=m["status"],
        credit_limit=from_minor(m["credit_limit"]),
        restrict_credit=m["restrict_credit"],
        credit_period_days=30,
        settlement=SettlementFrequency(1, "month", date(2026, 12, 1)),
        statement_email="-",
        customer_id=None,
        credit_rating=None,
        overdue_hold_days=None,
        opened_at=datetime(2026, 1, 1, tzinfo=UTC),
        balance=from_minor(m["balance"]),
    )


async def _post(conn: AsyncConnection, number: str, kind: str, minor: int, sale_id: str) -> None:
    entry_id = derived_id("entry", kind, sale_id)
    await conn.execute(
        insert(entries).values(
            entry_id=entry_id, account_number=number, kind=kind, amount=minor, reference=sale_id
        )
    )
    await conn.execute(
        update(accounts)
        .where(accounts.c.account_number == number)
        .values(balance=accounts.c.balance + minor)
    )


async def authorize(conn: AsyncConnection, sale: SaleEvent, now: datetime) -> bytes:
    query = select(accounts).where(accounts.c.account_number == sale.account_number)
    row = (await conn.execute(query.with_for_update())).first()
    account = _account(row) if row is not None else None
    charged = (
        await conn.execute(select(sale_charges).where(sale_charges.c.sale_id == sale.sale_id))
    ).first()
    if charged is not None and account is not None:
        outcome: Approved | Declined = Approved(from_minor(charged.amount), account.over_limit)
    else:
        outcome = decide_authorization(account, sale.currency, sale.account_amount())
        if isinstance(outcome, Approved) and account is not None:
            minor = to_minor(outcome.amount)
            await _post(conn, account.number, "charge", minor, sale.sale_id)
            await conn.execute(
                insert(sale_charges).values(
                    sale_id=sale.sale_id,
                    account_number=account.number,
                    amount=minor,
                    reversed=False,
                )
            )
            account.balance += outcome.amount
    return decision_reply(sale, outcome, account, now).value


async def void(conn: AsyncConnection, sale: SaleEvent) -> None:
    query = select(sale_charges).where(sale_charges.c.sale_id == sale.sale_id)
    charged = (await conn.execute(query.with_for_update())).first()
    if charged is None or charged.reversed:
        return
    await _post(conn, charged.account_number, "charge_reversal", -charged.amount, sale.sale_id)
    await conn.execute(
        update(sale_charges).where(sale_charges.c.sale_id == sale.sale_id).values(reversed=True)
    )


async def handle(engine: AsyncEngine, sale: SaleEvent) -> bytes:
    """One message, one transaction; returns the reply (empty when there is none)."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        query = select(processed.c.reply).where(processed.c.event_id == sale.event_id)
        stored = await conn.scalar(query)
        if stored is not None:
            return bytes(stored)
        reply = b""
        if sale.stage == "authorize":
            reply = await authorize(conn, sale, now)
        elif sale.stage == "voided":
            await void(conn, sale)
        await conn.execute(insert(processed).values(event_id=sale.event_id, reply=reply))
        return reply


async def run(
    bootstrap: str,
    topic: str,
    replies_topic: str,
    start: dict[int, int],
    count: int,
    fetch_max_wait_ms: int,
    database_url: str,
) -> Window:
    engine = create_engine(database_url)
    # As the worker publishes: every in-sync replica confirms, 1 ms linger.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    consumer = await assigned_reader(bootstrap, topic, start, fetch_max_wait_ms)
    try:
        seen = replied = 0
        began = time.monotonic()
        while seen < count:
            wanted = min(POLL_RECORDS_MAX, count - seen)
            batches = await consumer.getmany(timeout_ms=100, max_records=wanted)
            sent = []
            for records in batches.values():
                for record in records:
                    try:
                        sale = SaleEvent.model_validate_json(record.value or b"")
                    except ValidationError:
                        continue
                    reply = await handle(engine, sale)
                    if reply:
                        sent.append(await producer.send(replies_topic, reply, key=record.key))
                seen += len(records)
            await asyncio.gather(*sent)
            replied += len(sent)
        return Window(seen, began, time.monotonic(), replied)
    finally:
        await consumer.stop()
        await producer.stop()
        await engine.dispose()


def main() -> None:
    parser = reader_arguments(__doc__ or "")
    parser.add_argument("--replies-topic", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    window = asyncio.run(
        run(
            args.bootstrap,
            args.topic,
            args.replies_topic,
            parse_offsets(args.start),
            args.count,
            args.fetch_max_wait_ms,
            args.database_url,
        )
    )
    window.write(args.out)


if __name__ == "__main__":
    main()
