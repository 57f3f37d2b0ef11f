"""Keyed records for the CRM and statements phases: publishing them, and how far a consumer group
has got through them (its committed offsets, which the embedded broker answers correctly when
the partitions are named)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.loadgen import tills_producer


@dataclass(frozen=True, slots=True)
class KeyedRecord:
    key: bytes
    value: bytes


async def publish_all(bootstrap: str, topic: str, records: Sequence[KeyedRecord]) -> None:
    """Hands every record to the producer at once, then waits for all the acknowledgements."""
    producer = tills_producer(bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [await producer.send(topic, r.value, key=r.key) for r in records]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


class GroupProgress:
    """How many records of a topic a consumer group has committed (all partitions)."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._group = group
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]

    async def start(self) -> None:
        await self._admin.start()

    async def close(self) -> None:
        await self._admin.close()

    async def committed(self) -> int:
        offsets = await self._admin.list_consumer_group_offsets(
            self._group, partitions=self._partitions
        )
        return sum(max(meta.offset, 0) for meta in offsets.values())
