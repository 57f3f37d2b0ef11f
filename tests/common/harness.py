"""A tally service's surroundings in a test: its topics, a producer, a reader of its output
and a look into its database. Workers are started by the tests themselves, because several
guarantees are about what happens before a worker starts or after it stops."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.database import create_engine
from services.common.kafka import ensure_topics
from services.common.settings import RuntimeSettings
from services.common.worker import Worker
from shared.dead_letter import DeadLetter
from shared.topics import dead_letter_topic
from tests.common.tally_service import TALLY_EVENTS, TALLY_TOTALS, counters
from tests.support.kafka import Collector
from tests.support.naming import unique

Payload = dict[str, Any] | bytes | None


def tally_event(counter: str, add: int) -> dict[str, Any]:
    return {"event_id": unique("e-"), "counter": counter, "add": add}


def _encode(value: Payload) -> bytes | None:
    return orjson.dumps(value) if isinstance(value, dict) else value


@dataclass
class Tally:
    settings: RuntimeSettings
    database_url: str
    engine: AsyncEngine
    producer: AIOKafkaProducer
    output: Collector

    @property
    def events_topic(self) -> str:
        return self.settings.topic(TALLY_EVENTS)

    @property
    def totals_topic(self) -> str:
        return self.settings.topic(TALLY_TOTALS)

    @property
    def dead_letters_topic(self) -> str:
        return self.settings.topic(dead_letter_topic(TALLY_EVENTS))

    async def send(
        self, value: Payload, key: str | None = None, partition: int | None = None
    ) -> RecordMetadata:
        if key is None and isinstance(value, dict):
            key = value["counter"]
        raw_key = key.encode() if key is not None else None
        return await self.producer.send_and_wait(
            self.events_topic, _encode(value), key=raw_key, partition=partition
        )

    async def send_together(self, values: list[Payload], key: str, partition: int = 0) -> None:
        """One record batch on one partition: a worker started afterwards polls it whole."""
        batch = self.producer.create_batch()
        for value in values:
            appended = batch.append(timestamp=None, key=key.encode(), value=_encode(value))
            assert appended is not None, "the batch is full"
        sent = await self.producer.send_batch(batch, self.events_topic, partition=partition)
        await sent

    def totals_of(self, event_id: str) -> list[bytes]:
        """Every reply seen so far to one event, as the bytes on the wire."""
        return [
            value
            for topic, _, value in self.output.records
            if topic == self.totals_topic and orjson.loads(value)["event_id"] == event_id
        ]

    async def totals(self, event_id: str, count: int = 1) -> list[bytes]:
        await self.output.wait_for(
            self.totals_topic, lambda m: m["event_id"] == event_id, count=count
        )
        return self.totals_of(event_id)

    async def totals_for_all(
        self, event_ids: Collection[str], timeout_s: float = 30.0
    ) -> dict[str, list[bytes]]:
        deadline = time.monotonic() + timeout_s
        while True:
            seen: dict[str, list[bytes]] = {}
            for topic, _, value in self.output.records:
                if topic == self.totals_topic:
                    seen.setdefault(orjson.loads(value)["event_id"], []).append(value)
            missing = set(event_ids) - set(seen)
            if not missing:
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(missing)} events without a total in {timeout_s}s")
            await self.output.settle(0.05)

    async def dead_letters(self, count: int = 1) -> list[DeadLetter]:
        found = await self.output.wait_for(self.dead_letters_topic, lambda m: True, count=count)
        return [DeadLetter.model_validate(letter) for letter in found]

    async def counters(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(counters.c.name, counters.c.total))
            return {row.name: row.total for row in rows}

    async def row_count(self, table: Table) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


@asynccontextmanager
async def tally_harness(settings: RuntimeSettings, database_url: str) -> AsyncIterator[Tally]:
    # The topics a tally worker creates at start, created earlier so that a test can publish
    # before any worker runs (auto-creation would give them the broker's partition count).
    topics = [settings.topic(t) for t in (TALLY_EVENTS, TALLY_TOTALS)]
    topics.append(settings.topic(dead_letter_topic(TALLY_EVENTS)))
    await ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topic_partitions)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=0)
    await producer.start()
    output = Collector(settings.kafka_bootstrap_servers, topics[1:])
    await output.start()
    engine = create_engine(database_url)
    try:
        yield Tally(settings, database_url, engine, producer, output)
    finally:
        await engine.dispose()
        await output.stop()
        await producer.stop()


def messages_counted(worker: Worker, outcome: str) -> int:
    """Records the worker counted with one outcome: applied, duplicate, invalid or failed."""
    value = worker.metrics.registry.get_sample_value(
        "tabs_messages_total", {"topic": TALLY_EVENTS, "outcome": outcome}
    )
    return int(value or 0)


def batches_handled(worker: Worker) -> int:
    value = worker.metrics.registry.get_sample_value("tabs_batch_seconds_count")
    return int(value or 0)
