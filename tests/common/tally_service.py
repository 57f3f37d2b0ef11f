"""Tally: a service that exists only to test the runtime.

It keeps counters by name. Each event on `tally.events.v1` adds an amount to one counter, and
the reply on `tally.totals.v1` carries the counter's new total. Small enough that a test can
state the expected effect of any sequence of deliveries: every counter equals the sum of the
adds of the distinct events sent to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Column, MetaData, String, Table, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.handler import TopicHandler
from services.common.kafka import TopicDoc
from services.common.messages import Outgoing, Record
from services.common.runtime_tables import add_runtime_tables
from services.common.service import ServiceContext, ServiceSpec

TALLY_EVENTS = "tally.events.v1"
TALLY_TOTALS = "tally.totals.v1"

# The counter whose events make the handler raise, as a bug in our code would.
BOOM = "boom"

metadata = MetaData()
runtime = add_runtime_tables(metadata)

counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("total", BigInteger, nullable=False),
)


class TallyEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(min_length=1, max_length=200)
    counter: str = Field(min_length=1, max_length=64)
    add: int = Field(strict=True)


class TallyTotal(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    counter: str
    total: int


class TallyEvents:
    topic = TALLY_EVENTS

    def parse(self, raw: bytes) -> TallyEvent:
        return TallyEvent.model_validate_json(raw)

    def message_id(self, message: TallyEvent) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        # Nobody waits for the total of an event that could not be read.
        return []

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[TallyEvent], now: datetime
    ) -> list[list[Outgoing]]:
        results = []
        for event in messages:
            if event.counter == BOOM:
                raise ValueError(f"the tally handler cannot count {BOOM!r}")
            total = await _add(conn, event.counter, event.add)
            reply = TallyTotal(event_id=event.event_id, counter=event.counter, total=total)
            results.append([Outgoing.of(TALLY_TOTALS, event.counter, reply)])
        return results


async def _add(conn: AsyncConnection, name: str, amount: int) -> int:
    # One atomic statement: two workers adding to one counter (during a rebalance) queue on
    # its row instead of overwriting each other's read.
    total = await conn.scalar(
        update(counters)
        .where(counters.c.name == name)
        .values(total=counters.c.total + amount)
        .returning(counters.c.total)
    )
    if total is not None:
        return int(total)
    await conn.execute(insert(counters).values(name=name, total=amount))
    return amount


def _handlers(context: ServiceContext) -> Mapping[str, TopicHandler[Any]]:
    return {TALLY_EVENTS: TallyEvents()}


SPEC = ServiceSpec(
    name="tally",
    title="Tally (a service for testing the runtime)",
    version="1.0.0",
    metadata=metadata,
    tables=runtime,
    migrations=Path(__file__).parent / "tally_migrations",
    consumes=[TopicDoc(TALLY_EVENTS, TallyEvent, "amounts to add to named counters")],
    produces=[TopicDoc(TALLY_TOTALS, TallyTotal, "a counter's total after each event")],
    handlers=_handlers,
)
