"""The embedded Tansu broker, over real aiokafka connections."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.common import kafka as kafka_module
from services.common.kafka import ensure_topics
from services.local import process
from services.local.broker import EmbeddedBroker
from services.local.process import HOST, ChildStartError

TOPIC = "tabs.local-test"


async def test_keyed_message_round_trip(
    tmp_path: Path, assert_stopped: Callable[[int | None, int], None]
) -> None:
    broker = EmbeddedBroker(tmp_path)
    broker.start()
    try:
        bootstrap = broker.bootstrap_servers
        assert bootstrap == f"127.0.0.1:{broker.port}"
        await ensure_topics(bootstrap, [TOPIC], partitions=6)
        await ensure_topics(bootstrap, [TOPIC], partitions=6)  # a duplicate is harmless

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            assert await producer.partitions_for(TOPIC) == set(range(6))
            sent = await producer.send_and_wait(TOPIC, b"balance:42", key=b"customer-7")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
        )
        await consumer.start()
        try:
            partition = TopicPartition(TOPIC, sent.partition)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            record = await asyncio.wait_for(consumer.getone(), timeout=10)
        finally:
            await consumer.stop()
        assert (record.key, record.value, record.partition) == (
            b"customer-7",
            b"balance:42",
            sent.partition,
        )
    finally:
        pid, port = broker.pid, broker.port
        broker.stop()
    assert_stopped(pid, port)
    assert not broker.running


def test_taken_port_fails_fast_with_the_log(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        # Tansu exits rc 0 on AddrInUse, and a TCP probe would reach `holder`: must not pass.
        with pytest.raises(ChildStartError, match="AddrInUse") as caught:
            EmbeddedBroker(tmp_path, port=taken).start()
        assert caught.value.port_in_use


def test_lost_port_race_retries_on_a_new_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_free_port = process.free_port
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        picks = iter([taken])
        monkeypatch.setattr(process, "free_port", lambda: next(picks, None) or real_free_port())
        with EmbeddedBroker(tmp_path) as broker:
            assert broker.port != taken
            assert broker.running


async def test_create_topics_raises_on_other_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tansu accepts every create we could send, so the broker's answer is faked here.
    class FakeAdmin:
        def __init__(self, **_: Any) -> None:
            pass

        async def start(self) -> None:
            pass

        async def close(self) -> None:
            pass

        async def create_topics(self, topics: list[Any]) -> Any:
            class Response:
                topic_errors = [("a", 0, None), ("b", 36, "exists"), ("c", 37, "bad partitions")]

            return Response()

    monkeypatch.setattr(kafka_module, "AIOKafkaAdminClient", FakeAdmin)
    with pytest.raises(RuntimeError, match=r"c: error 37 bad partitions") as caught:
        await ensure_topics("127.0.0.1:1", ["a", "b", "c"], partitions=6)
    assert "b:" not in str(caught.value)
