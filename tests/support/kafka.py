"""Publishing bytes and collecting replies through the real broker, with bounded waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.common.record_gaps import Gap, RecordGapGuard


class Producer:
    def __init__(self, bootstrap: str) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, value: bytes | dict[str, Any], key: str | None) -> None:
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        await self._producer.send_and_wait(topic, raw, key=key.encode() if key else None)


class Collector:
    """Reads topics from the beginning, outside any group, and keeps every record.

    Guarded as the workers are: records the broker leaves out of a fetch are fetched again
    (services/common/record_gaps.py); `gaps` lists each gap met.
    """

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self._consumer: AIOKafkaConsumer | None = None
        self.records: list[tuple[str, bytes | None, bytes]] = []
        self.gaps: list[Gap] = []
        self._guard = RecordGapGuard(on_gap=self.gaps.append)

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        partitions = []
        for topic in self._topics:
            for partition in consumer.partitions_for_topic(topic) or await _partitions(
                consumer, topic
            ):
                partitions.append(TopicPartition(topic, partition))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        for tp in partitions:
            self._guard.expect(tp, await consumer.position(tp))
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def _poll(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=50)
        admitted = self._guard.admit([r for records in batches.values() for r in records])
        self.records.extend((r.topic, r.key, r.value) for r in admitted.records)
        self._guard.done(self._consumer, admitted)

    def messages(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(v) for t, _, v in self.records if t == topic]

    async def wait_for(
        self,
        topic: str,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        count: int = 1,
        timeout_s: float = 20.0,
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = [m for m in self.messages(topic) if predicate(m)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(found)} of {count} messages on {topic} within {timeout_s}s; "
                    f"saw {self.messages(topic)[-5:]}"
                )
            await self._poll()

    async def settle(self, seconds: float) -> None:
        """Keeps reading for a while, to show that nothing more arrives."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self._poll()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} has no partitions")
