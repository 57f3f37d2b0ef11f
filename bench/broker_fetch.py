"""What a fetch costs the embedded broker as a partition fills: `python -m bench.broker_fetch`.

Tansu's memory engine answers a fetch by listing every record batch the partition holds, then
reading the ones wanted, and stops listing when the fetch's max wait runs out (its
`tansu-storage/src/dynostore.rs`, `fetch`). So a fetch costs broker CPU in proportion to the
batches stored, and once listing takes longer than the consumer's `fetch_max_wait_ms` the
fetch comes back without the records asked for: the consumer stalls. Apache Kafka finds the
offset in an index and is not affected.

This fills one partition with single-record batches (as tills sending one sale at a time make
them) and, at each size, times fetching the last record, reads the whole partition from the
start with a short and a long max wait, and measures what a consumer waiting at the end for more
costs the broker. It prints the figures; nothing is asserted.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import psutil
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.local.broker import EmbeddedBroker

TOPIC = "fetch-cost"
RECORD = b"x" * 100
# A batch holds at most one 100-byte record.
ONE_RECORD_BATCH_BYTES = 200
LAST_RECORD_FETCHES = 30
READ_TIMEOUT_S = 20.0
WAITING_S = 3.0


@dataclass(frozen=True)
class Size:
    batches: int
    last_record_ms: float  # broker CPU per fetch of the partition's last record
    reads: dict[int, tuple[int, float]]  # max wait ms -> (records read, seconds)
    waiting_cores: dict[int, float]  # max wait ms -> broker cores, a consumer waiting at the end


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _fill(bootstrap: str, count: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=0, max_batch_size=ONE_RECORD_BATCH_BYTES
    )
    await producer.start()
    try:
        sent = [await producer.send(TOPIC, RECORD) for _ in range(count)]
        await producer.flush()
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _last_record_cpu_ms(bootstrap: str, broker: psutil.Process, end: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5_000
    )
    await consumer.start()
    try:
        partition = TopicPartition(TOPIC, 0)
        consumer.assign([partition])
        before = _cpu_s(broker)
        for _ in range(LAST_RECORD_FETCHES):
            consumer.seek(partition, end - 1)
            await consumer.getmany(partition, timeout_ms=10_000)
        return (_cpu_s(broker) - before) * 1000.0 / LAST_RECORD_FETCHES
    finally:
        await consumer.stop()


@asynccontextmanager
async def _reading(
    bootstrap: str, fetch_max_wait_ms: int, offset: int
) -> AsyncIterator[tuple[AIOKafkaConsumer, TopicPartition]]:
    """A consumer of the partition from `offset`, outside any group."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        partition = TopicPartition(TOPIC, 0)
        consumer.assign([partition])
        consumer.seek(partition, offset)
        yield consumer, partition
    finally:
        await consumer.stop()


async def _read_all(bootstrap: str, end: int, fetch_max_wait_ms: int) -> tuple[int, float]:
    async with _reading(bootstrap, fetch_max_wait_ms, 0) as (consumer, partition):
        read, started = 0, time.monotonic()
        while read < end and time.monotonic() - started < READ_TIMEOUT_S:
            batches = await consumer.getmany(partition, timeout_ms=200)
            read += sum(len(records) for records in batches.values())
        return read, time.monotonic() - started


async def _waiting_cores(
    bootstrap: str, broker: psutil.Process, end: int, fetch_max_wait_ms: int
) -> float:
    """The broker's CPU, in cores, while a consumer at the partition's end waits for more."""
    async with _reading(bootstrap, fetch_max_wait_ms, end) as (consumer, partition):
        await consumer.getmany(partition, timeout_ms=200)
        before, started = _cpu_s(broker), time.monotonic()
        while time.monotonic() - started < WAITING_S:
            await consumer.getmany(partition, timeout_ms=50)
        return (_cpu_s(broker) - before) / (time.monotonic() - started)


async def measure(sizes: list[int], waits: list[int]) -> list[Size]:
    with (
        tempfile.TemporaryDirectory(prefix="tabs-fetch-") as directory,
        EmbeddedBroker(Path(directory)) as broker,
    ):
        assert broker.pid is not None
        process = psutil.Process(broker.pid)
        bootstrap = broker.bootstrap_servers
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(TOPIC, 1, 1)])
        finally:
            await admin.close()
        found, stored = [], 0
        for size in sorted(sizes):
            await _fill(bootstrap, size - stored)
            stored = size
            found.append(
                Size(
                    size,
                    await _last_record_cpu_ms(bootstrap, process, size),
                    {wait: await _read_all(bootstrap, size, wait) for wait in waits},
                    {wait: await _waiting_cores(bootstrap, process, size, wait) for wait in waits},
                )
            )
        return found


def main(
    batches: Annotated[list[int] | None, typer.Option(help="Sizes to measure.")] = None,
    wait: Annotated[
        list[int] | None, typer.Option(help="fetch_max_wait_ms values to read with.")
    ] = None,
) -> None:
    sizes = batches or [2_000, 10_000, 20_000, 40_000]
    waits = wait or [5, 100]
    for size in asyncio.run(measure(sizes, waits)):
        reads = "; ".join(
            f"max wait {ms} ms: {read:,} of {size.batches:,} records in {seconds:.2f} s"
            for ms, (read, seconds) in size.reads.items()
        )
        waiting = "; ".join(
            f"max wait {ms} ms: {cores:.3f}" for ms, cores in size.waiting_cores.items()
        )
        print(
            f"{size.batches:>7,} batches: fetching the last record costs the broker "
            f"{size.last_record_ms:.2f} ms of CPU ({size.last_record_ms * 1000 / size.batches:.2f}"
            f" us per stored batch); reading them all, {reads}; a consumer waiting at the end "
            f"costs the broker (cores) {waiting}",
            flush=True,
        )


if __name__ == "__main__":
    typer.run(main)
