"""The tills' side of the bench: offsets noted as acknowledgements arrive, failures kept."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.structs import RecordMetadata, TopicPartition

from bench.loadgen import Published, _Acknowledgements, publish_open_loop, tills_producer
from bench.workload import SaleMessage
from services.common.kafka import ensure_topics
from tests.support.naming import unique


def _metadata(partition: int, offset: int) -> RecordMetadata:
    return RecordMetadata("t", partition, TopicPartition("t", partition), offset, -1, -1, 0)


async def test_acknowledgements_note_the_first_offset_of_each_partition_as_they_arrive() -> None:
    published = Published()
    acknowledgements = _Acknowledgements(published)
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    for future in futures:
        acknowledgements.watch(future)
    futures[0].set_result(_metadata(0, 7))
    await asyncio.sleep(0)
    assert published.first_offsets == {0: 7}
    futures[1].set_result(_metadata(1, 3))
    futures[2].set_result(_metadata(0, 8))
    await asyncio.wait_for(acknowledgements.wait(), 1.0)
    assert published.first_offsets == {0: 7, 1: 3}


async def test_a_failed_acknowledgement_is_raised_once_all_are_in() -> None:
    acknowledgements = _Acknowledgements(Published())
    loop = asyncio.get_running_loop()
    failed, late = loop.create_future(), loop.create_future()
    acknowledgements.watch(failed)
    acknowledgements.watch(late)
    failed.set_exception(ConnectionError("broker gone"))
    waiting = asyncio.create_task(acknowledgements.wait())
    await asyncio.sleep(0.01)
    assert not waiting.done(), "it waits for the other acknowledgement"
    late.set_result(_metadata(0, 1))
    with pytest.raises(ConnectionError, match="broker gone"):
        await asyncio.wait_for(waiting, 1.0)


async def test_open_loop_sends_every_message_and_notes_where_each_partition_began(
    kafka_bootstrap: str,
) -> None:
    topic = unique("bench-tills-")
    await ensure_topics(kafka_bootstrap, [topic], partitions=2)
    producer = tills_producer(kafka_bootstrap, linger_ms=1)
    await producer.start()
    try:
        messages = [
            SaleMessage(f"e{n}", f"A{n % 4}".encode(), b"{}", decided=True) for n in range(40)
        ]
        sent: list[int] = []
        published = await publish_open_loop(producer, topic, messages, 2_000.0, sent.append)
    finally:
        await producer.stop()
    assert published.count == 40
    assert sent[-1] == 40
    assert published.first_offsets == {0: 0, 1: 0}
    assert sorted(published.at) == sorted(m.event_id for m in messages)
