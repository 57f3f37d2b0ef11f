"""The tills' side: publish sale events (open-loop or as a backlog) and collect decisions.

Every timestamp is time.monotonic() in this process (CLOCK_MONOTONIC, shared by every process
on the machine): the moment just before a record is handed to the producer, and the moment
the poll that brought its decision returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata

from bench.workload import SaleMessage

POLL_RECORDS_MAX = 10_000
POLL_TIMEOUT_MS = 50
# Open-loop sending wakes up at most this often; records due meanwhile go out together.
SEND_TICK_S = 0.001


@contextlib.contextmanager
def no_collector_pauses() -> Iterator[None]:
    """While latency is measured: this process's garbage collector would stop its event loop
    for 40-120 ms at a time (a full collection over the run's messages), and the decisions
    polled meanwhile would be timed late, charged to the worker. Reference counting still
    frees what the phase drops; the collector runs again afterwards."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def tills_producer(bootstrap: str, *, linger_ms: int) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=linger_ms,
        max_batch_size=65_536,
        acks=1,
        request_timeout_ms=30_000,
    )


@dataclass
class Published:
    """When each event was handed to the producer (an event sent twice has two moments)."""

    at: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    first_offsets: dict[int, int] = field(default_factory=dict)
    count: int = 0
    began: float = 0.0
    ended: float = 0.0

    def note_offset(self, metadata: RecordMetadata) -> None:
        known = self.first_offsets.get(metadata.partition)
        if known is None or metadata.offset < known:
            self.first_offsets[metadata.partition] = metadata.offset

    @property
    def offered_per_s(self) -> float:
        return self.count / (self.ended - self.began) if self.ended > self.began else 0.0


class _Acknowledgements:
    """Notes each record's offset as the broker acknowledges it. Gathering tens of thousands
    of futures at the end would hold this process's event loop for a few hundred
    milliseconds, and the decisions polled meanwhile would be timed late."""

    def __init__(self, published: Published) -> None:
        self._published = published
        self._outstanding = 0
        self._failure: BaseException | None = None
        self._all_in = asyncio.Event()
        self._all_in.set()

    def watch(self, future: asyncio.Future[RecordMetadata]) -> None:
        self._outstanding += 1
        self._all_in.clear()
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[RecordMetadata]) -> None:
        self._outstanding -= 1
        if future.cancelled():
            self._failure = self._failure or asyncio.CancelledError()
        elif (error := future.exception()) is not None:
            self._failure = self._failure or error
        else:
            self._published.note_offset(future.result())
        if self._outstanding == 0:
            self._all_in.set()

    async def wait(self) -> None:
        await self._all_in.wait()
        if self._failure is not None:
            raise self._failure


async def publish_open_loop(
    producer: AIOKafkaProducer,
    topic: str,
    messages: Sequence[SaleMessage],
    rate_per_s: float,
    on_sent: Callable[[int], None],
) -> Published:
    """Sends on a fixed schedule whatever the replies do (open loop), so a slow worker shows
    up as latency instead of as a lower offered rate."""
    published = Published()
    acknowledgements = _Acknowledgements(published)
    published.began = start = time.monotonic()
    for n, message in enumerate(messages):
        due = start + n / rate_per_s
        ahead = due - time.monotonic()
        if ahead > SEND_TICK_S:
            await asyncio.sleep(ahead)
        published.at[message.event_id].append(time.monotonic())
        acknowledgements.watch(await producer.send(topic, message.value, key=message.key))
        published.count += 1
        if n % 256 == 0:
            on_sent(n + 1)
    published.ended = time.monotonic()
    await acknowledgements.wait()
    on_sent(len(messages))
    return published


async def publish_backlog(
    producer: AIOKafkaProducer,
    topic: str,
    messages: Sequence[SaleMessage],
    on_sent: Callable[[int], None],
) -> Published:
    published = Published()
    published.began = time.monotonic()
    pending = []
    for n, message in enumerate(messages):
        published.at[message.event_id].append(time.monotonic())
        pending.append(await producer.send(topic, message.value, key=message.key))
        if n % 1024 == 0:
            on_sent(n + 1)
    for metadata in await asyncio.gather(*pending):
        published.note_offset(metadata)
    published.count = len(messages)
    published.ended = time.monotonic()
    on_sent(len(messages))
    return published


@dataclass(frozen=True, slots=True)
class Received:
    at: float
    request_event_id: str
    value: bytes


class DecisionCollector:
    """Reads a decisions topic from the beginning, outside any consumer group."""

    def __init__(self, bootstrap: str, topic: str, *, fetch_max_wait_ms: int) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        self._topic = topic
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.received: list[Received] = []

    async def start(self, partitions: int) -> None:
        await self._consumer.start()
        assigned = [TopicPartition(self._topic, p) for p in range(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        self._task = asyncio.create_task(self._run(), name="bench-decisions")

    async def stop(self) -> None:
        """Stops polling (an idle consumer still costs the broker CPU); keeps what it got."""
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(
                timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_RECORDS_MAX
            )
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    value = record.value or b""
                    request = orjson.loads(value)["request_event_id"]
                    self.received.append(Received(now, request, value))

    def since(self, moment: float) -> list[Received]:
        # Appended in poll order, so already sorted by time.
        return self.received[bisect_left(self.received, moment, key=lambda r: r.at) :]

    async def wait_for(
        self,
        count: int,
        since: float,
        timeout_s: float,
        on_progress: Callable[[int], None],
    ) -> list[Received]:
        """The decisions received after `since`, once there are `count` of them."""
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.since(since)
            on_progress(len(got))
            if len(got) >= count:
                return got
            if self._task is not None and self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(got)} of {count} decisions within {timeout_s:.0f} s")
            await asyncio.sleep(0.05)
