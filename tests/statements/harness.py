"""Driving a real statements worker: account events in, statements out by SMTP and Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from services.common.clock import SetClock
from services.common.service import ServiceContext
from services.common.settings import RuntimeSettings
from services.common.worker import Worker
from services.local.mail_catcher import MailCatcher
from services.statements.app import SPEC, deliveries, scheduler
from services.statements.deliveries import Deliveries
from services.statements.scheduler import Scheduler
from services.statements.settings import StatementsSettings
from services.statements.tables import statement_accounts, statement_entries
from shared.account_events import (
    AccountEventBase,
    AccountOpened,
    EntryKind,
    EntryPosted,
    account_event_key,
)
from shared.account_events import Entry as LedgerEntry
from shared.terms import SettlementFrequency
from shared.topics import ACCOUNT_EVENTS, STATEMENT_REQUESTS, STATEMENTS_SENT
from tests.support.kafka import Collector, Producer
from tests.support.naming import unique
from tests.support.workers import running_worker

AUCKLAND = ZoneInfo("Pacific/Auckland")
# A week before the November statements; the clock is moved past the month end by each test.
START = datetime(2026, 11, 20, 9, 0, tzinfo=AUCKLAND)
AFTER_NOVEMBER = datetime(2026, 12, 1, 1, 0, tzinfo=AUCKLAND)
NOVEMBER_END = date(2026, 11, 30)
SENDER = "statements@kauri.example"


def statements_settings(
    settings: RuntimeSettings, database_url: str, smtp: tuple[str, int], **extra: Any
) -> StatementsSettings:
    """The test's runtime settings, plus a mail server and loops that wait for the test."""
    return StatementsSettings.model_validate(
        {
            **settings.model_dump(by_alias=True),
            "STATEMENTS_DATABASE_URL": database_url,
            "SMTP_HOST": smtp[0],
            "SMTP_PORT": smtp[1],
            "SMTP_TIMEOUT_S": 5,
            "STATEMENT_FROM": SENDER,
            "STATEMENT_BUSINESS_NAME": "Kauri Hardware Ltd",
            "STATEMENT_BUSINESS_ADDRESS": "12 Queen Street|Auckland 1010",
            "STATEMENT_PAYMENT_INSTRUCTIONS": "Bank transfer to 12-3456-7890123-00.",
            "BUSINESS_TIMEZONE": "Pacific/Auckland",
            # The tests call the scheduler and deliveries themselves, with the clock they set.
            "STATEMENT_SCHEDULE_INTERVAL_S": 3600,
            "STATEMENT_DELIVERY_INTERVAL_S": 3600,
            "STATEMENT_CLOSE_DELAY_S": 0,
            "STATEMENT_RETRY_BACKOFF_S": 60,
            "STATEMENT_RETRY_BACKOFF_MAX_S": 600,
            "STATEMENT_DELIVERY_ATTEMPTS_MAX": 3,
            **extra,
        }
    )


@dataclass
class Books:
    """Account events as the credit service publishes them, with balances kept right."""

    balances: dict[str, Decimal] = field(default_factory=dict)

    def opened(
        self,
        number: str,
        *,
        frequency: SettlementFrequency | None = None,
        email: str = "accounts@hammer.example",
        at: datetime = START,
        name: str = "Hammer & Sons Ltd",
    ) -> AccountOpened:
        self.balances[number] = Decimal("0")
        return AccountOpened(
            event_id=unique("ev-"),
            occurred_at=at,
            account_number=number,
            status="active",
            name=name,
            currency="NZD",
            credit_limit=Decimal("5000.00"),
            restrict_credit=True,
            credit_period_days=20,
            settlement_frequency=frequency
            or SettlementFrequency(every=1, unit="month", anchor=date(2026, 1, 31)),
            statement_email=email,
        )

    def posted(
        self,
        number: str,
        kind: EntryKind,
        amount: str,
        at: datetime,
        reference: str,
        *,
        due_in_days: int = 20,
    ) -> EntryPosted:
        value = Decimal(amount)
        self.balances[number] += value
        due = at.astimezone(AUCKLAND).date() + timedelta(days=due_in_days) if value > 0 else None
        return EntryPosted(
            event_id=unique("ev-"),
            occurred_at=at,
            account_number=number,
            entry=LedgerEntry(
                entry_id=unique("en-"),
                kind=kind,
                amount=value,
                currency="NZD",
                balance_after=self.balances[number],
                reference=reference,
                due_date=due,
                posted_at=at,
            ),
        )


@asynccontextmanager
async def running_statements(
    config: StatementsSettings, clock: SetClock, mail: MailCatcher
) -> AsyncIterator[Statements]:
    async with running_worker(SPEC, config, config.database_url, clock=clock) as worker:
        producer = Producer(config.kafka_bootstrap_servers)
        await producer.start()
        topics = [config.topic(STATEMENTS_SENT), config.topic(STATEMENT_REQUESTS) + ".dlq"]
        replies = Collector(config.kafka_bootstrap_servers, topics)
        await replies.start()
        try:
            yield Statements(config, worker, clock, producer, replies, mail)
        finally:
            await replies.stop()
            await producer.stop()


@dataclass
class Statements:
    settings: StatementsSettings
    worker: Worker
    clock: SetClock
    producer: Producer
    replies: Collector
    mail: MailCatcher
    books: Books = field(default_factory=Books)

    @property
    def context(self) -> ServiceContext:
        return ServiceContext(
            settings=self.settings,
            engine=self.worker.engine,
            clock=self.clock,
            relay=self.worker.relay,
        )

    @property
    def scheduler(self) -> Scheduler:
        return scheduler(self.context)

    @property
    def deliveries(self) -> Deliveries:
        return deliveries(self.context)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def publish(self, *events: AccountEventBase) -> None:
        for event in events:
            raw = event.model_dump_json(by_alias=True).encode()
            await self.producer.send(self.topic(ACCOUNT_EVENTS), raw, account_event_key(event))

    async def request(
        self, number: str, period_end: date = NOVEMBER_END, *, deliver: bool = True
    ) -> str:
        event_id = unique("rq-")
        payload = {
            "event_id": event_id,
            "account_number": number,
            "period_end": period_end.isoformat(),
            "deliver": deliver,
        }
        await self.producer.send(self.topic(STATEMENT_REQUESTS), payload, number)
        return event_id

    async def stored(self, number: str, entries: int, timeout_s: float = 20.0) -> None:
        """Waits until the worker has stored the account and its entries."""
        deadline = time.monotonic() + timeout_s
        while True:
            async with self.worker.engine.connect() as conn:
                account = await conn.scalar(
                    select(func.count())
                    .select_from(statement_accounts)
                    .where(statement_accounts.c.account_number == number)
                )
                stored = await conn.scalar(
                    select(func.count())
                    .select_from(statement_entries)
                    .where(statement_entries.c.account_number == number)
                )
            if account == 1 and stored == entries:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{number}: {account} account, {stored} of {entries} entries")
            await asyncio.sleep(0.05)

    async def outcomes(
        self, number: str, count: int = 1, timeout_s: float = 20.0
    ) -> list[dict[str, Any]]:
        return await self.replies.wait_for(
            self.topic(STATEMENTS_SENT),
            lambda m: m["account_number"] == number,
            count=count,
            timeout_s=timeout_s,
        )

    async def dead_letters(self, count: int = 1) -> list[dict[str, Any]]:
        return await self.replies.wait_for(
            self.topic(STATEMENT_REQUESTS) + ".dlq", lambda m: True, count=count
        )
