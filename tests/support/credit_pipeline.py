"""A credit pipeline as the worker wires it, driven by a test: no broker, what would be
published kept in a list (the broker is exercised by the worker tests)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.clock import SetClock
from services.common.handler import UnlockedRun
from services.common.inbox import Claims, Inbox
from services.common.messages import Outgoing, Record
from services.common.metrics import Metrics
from services.common.pipeline import Pipeline
from services.credit.app import SPEC
from services.credit.consumers import AccountCommands, SaleEvents
from services.credit.handlers import CreditHandlers
from services.credit.settings import default_rating_limits
from shared.sales import SaleEvent
from shared.topics import ACCOUNT_COMMANDS, CREDIT_DECISIONS, POS_SALES

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
Meanwhile = Callable[[], Awaitable[None]]


class Published:
    def __init__(self) -> None:
        self.messages: list[Outgoing] = []

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        self.messages.extend(messages)

    def decisions(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.value) for m in self.messages if m.topic == CREDIT_DECISIONS]


class SalesWithAnotherWriter(SaleEvents):
    """The real sales handler; once, after its unlocked read and its decisions and before the
    pipeline writes them, another writer runs."""

    def __init__(self, handlers: CreditHandlers) -> None:
        super().__init__(handlers)
        self.meanwhile: Meanwhile | None = None

    async def read_unlocked(
        self, conn: AsyncConnection, messages: Sequence[SaleEvent], claims: Claims
    ) -> UnlockedRun[SaleEvent]:
        return _ThenAnotherWriter(self, await super().read_unlocked(conn, messages, claims))


class _ThenAnotherWriter:
    """A run read without locks that, once applied in memory, lets the other writer run."""

    def __init__(self, sales: SalesWithAnotherWriter, run: UnlockedRun[SaleEvent]) -> None:
        self._sales = sales
        self._run = run
        self.stored = run.stored

    async def apply(self, messages: Sequence[SaleEvent], now: datetime) -> list[list[Outgoing]]:
        results = await self._run.apply(messages, now)
        meanwhile, self._sales.meanwhile = self._sales.meanwhile, None
        if meanwhile is not None:
            await meanwhile()
        return results


class Worker:
    """One pipeline as the credit worker wires it, on a database of its own or a shared one."""

    def __init__(self, engine: AsyncEngine, *, unlocked_reads: bool = True) -> None:
        handlers = CreditHandlers(ZoneInfo("Pacific/Auckland"), default_rating_limits())
        self.sales = SalesWithAnotherWriter(handlers)
        self.published = Published()
        self.metrics = Metrics("credit")
        self.clock = SetClock(NOW)
        self.pipeline = Pipeline(
            consumer_group="tabs-credit",
            engine=engine,
            handlers={POS_SALES: self.sales, ACCOUNT_COMMANDS: AccountCommands(handlers)},
            inbox=Inbox(SPEC.tables),
            publish=self.published,
            clock=self.clock,
            metrics=self.metrics,
            unlocked_reads=unlocked_reads,
        )
        self._offset = 0

    async def handle(self, *messages: dict[str, Any]) -> None:
        records = []
        for message in messages:
            topic = ACCOUNT_COMMANDS if "command_id" in message else POS_SALES
            key = message.get("account_number") or message["sale_id"]
            records.append(Record(topic, 0, self._offset, key.encode(), orjson.dumps(message)))
            self._offset += 1
        self.clock.advance(timedelta(seconds=1))
        await self.pipeline.handle(records)

    def retries(self, cause: str) -> float:
        value = self.metrics.registry.get_sample_value("tabs_batch_retries_total", {"cause": cause})
        return value or 0.0
