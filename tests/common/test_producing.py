"""Messages sent in record batches built per partition land where `producer.send()` puts the
same key, in order, with their headers; batches that fill up and topics without metadata yet
included (the real embedded broker)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from services.common import producing
from services.common.kafka import ensure_topics
from services.common.producing import partition_for, send_in_batches
from tests.support.naming import unique

HEADERS = [("content-type", b"application/json")]


async def read_all(bootstrap: str, topic: str, count: int) -> dict[int, list[tuple[bytes, bytes]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(4)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        seen = 0
        while seen < count:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    assert record.headers == tuple(HEADERS) or list(record.headers) == HEADERS
                    found[tp.partition].append((record.key or b"", record.value or b""))
                    seen += 1
        return found
    finally:
        await consumer.stop()


async def test_batched_messages_land_where_send_puts_them_in_order(kafka_bootstrap: str) -> None:
    batched, one_by_one = unique("batched-"), unique("sent-")
    await ensure_topics(kafka_bootstrap, [batched, one_by_one], 4)
    # Small batches, so that several fill up on the way.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_batch_size=2048)
    await producer.start()
    try:
        messages = [
            (f"ACC-{n % 37:04d}".encode(), f'{{"n": {n}, "pad": "{"x" * 200}"}}'.encode())
            for n in range(400)
        ]
        # The first call knows no partitions of the topic yet: send() fetches them.
        sent = await send_in_batches(producer, [(batched, *messages[0])], HEADERS)
        sent += await send_in_batches(producer, [(batched, k, v) for k, v in messages[1:]], HEADERS)
        for future in sent:
            await future
        for key, value in messages:
            await (await producer.send(one_by_one, value, key=key, headers=HEADERS))
    finally:
        await producer.stop()
    assert await read_all(kafka_bootstrap, batched, 400) == await read_all(
        kafka_bootstrap, one_by_one, 400
    )


@given(
    keys=st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=50),
    count=st.integers(min_value=1, max_value=12),
)
def test_a_remembered_hash_picks_the_default_partitioners_partition(
    keys: list[bytes], count: int
) -> None:
    every = list(range(count))
    for key in keys * 2:  # the second time from the remembered hash
        assert partition_for(key, every, every) == DefaultPartitioner()(key, every, every)


def test_the_remembered_hashes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(producing, "_HASHES_MAX", 3)
    monkeypatch.setattr(producing, "_HASHES", {})
    every = list(range(6))
    for n in range(10):
        key = f"ACC-{n}".encode()
        assert partition_for(key, every, every) == DefaultPartitioner()(key, every, every)
        assert len(producing._HASHES) <= 3
