"""The FastStream wiring every worker shares: one batch subscriber, one publisher per topic."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.publisher.usecase import DefaultPublisher
from pydantic import SkipValidation

from services.common.messages import Outgoing, Record
from services.common.metrics import Metrics
from services.common.offsets import Committer, DeferredCommits
from services.common.producing import send_in_batches
from services.common.record_gaps import Gap, RecordGapGuard
from services.common.settings import RuntimeSettings
from shared.dead_letter import DeadLetter
from shared.topics import dead_letter_topic

log = logging.getLogger(__name__)

# How long a consumer's poll waits for records; it returns as soon as any arrive (see
# _poll_without_sleeping).
POLL_WAIT_MS = 100

# Kafka answers a duplicate create with this code in the response, not an exception.
_TOPIC_ALREADY_EXISTS = 36
_JSON_HEADERS = [("content-type", b"application/json")]


@dataclass(frozen=True)
class TopicDoc:
    """A topic a worker consumes or produces, with the message model that documents it."""

    topic: str
    model: Any
    description: str


def build_broker(settings: RuntimeSettings, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        # Every in-sync replica confirms a decision before the till may rely on it.
        acks="all",
        linger_ms=1,
        # A batch's messages go in one record batch per partition (producing.py): 256 KiB
        # holds about 500 decisions, under Apache Kafka's 1 MiB message limit.
        max_batch_size=262_144,
        request_timeout_ms=30_000,
        # Topics are created explicitly at start with the configured partition count; an
        # auto-created topic would get the broker's default count and break key partitioning.
        allow_auto_create_topics=False,
        graceful_timeout=15.0,
        logger=None,
        description="Tabs: customer accounts, loyalty and statements for retailers.",
    )


async def start_subscribers_together(broker: KafkaBroker) -> None:
    """What `broker.start()` does, but with the subscribers started at once.

    FastStream starts them one after another, and each waits for its group join: a worker's
    second consumer would join after the first had its partitions, and take half of them in a
    second round (the embedded broker holds a join for half the session timeout, so seconds
    with nothing consumed). Started together they join as one generation."""
    await broker.connect()
    await asyncio.gather(*(subscriber.start() for subscriber in broker.subscribers))
    for publisher in broker.publishers:
        await publisher.start()
    broker.running = True


async def ensure_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    partitions: int,
    *,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
) -> None:
    """Creates the topics that are missing; an existing topic is left as it is.

    Topics must be created up front: a broker auto-creates an unknown topic with its default
    partition count (Tansu: 4), which would silently break the key-to-partition rule.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    new_topics = [
        NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
        for name in topics
    ]
    if not new_topics:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_s * 1000)
    )
    await admin.start()
    try:
        response = await admin.create_topics(new_topics)
    finally:
        await admin.close()
    # aiokafka reports per-topic failures in the response instead of raising.
    failures = [
        f"{entry[0]}: error {entry[1]} {entry[2] if len(entry) > 2 else ''}".strip()
        for entry in response.topic_errors
        if entry[1] not in (0, _TOPIC_ALREADY_EXISTS)
    ]
    if failures:
        raise RuntimeError("creating topics failed: " + "; ".join(failures))


async def _raw_records(message: KafkaMessage) -> Any:
    # The pipeline validates each record itself, so that one bad record becomes a dead letter
    # instead of failing the whole batch in FastStream's decoder.
    return message.raw_message


# Applies a batch; returns what completes once its messages are acknowledged.
BatchHandler = Callable[[Sequence[Record]], Awaitable[Awaitable[None]]]


async def _nothing() -> None:
    return None


async def _all_of(sent: Sequence[Awaitable[Any]]) -> None:
    await asyncio.gather(*sent)


def subscribe(
    broker: KafkaBroker,
    settings: RuntimeSettings,
    *,
    group_id: str,
    consumes: Sequence[TopicDoc],
    title: str,
    on_batch: BatchHandler,
    metrics: Metrics | None = None,
    commits: DeferredCommits | None = None,
) -> None:
    """One consumer for all the worker's input topics: one group join, and with the range
    assignor partition N of every input topic lands on the same worker (they share keys)."""
    commits = commits if commits is not None else DeferredCommits()
    names = {settings.topic(doc.topic): doc.topic for doc in consumes}
    payload: Any = consumes[0].model
    for doc in consumes[1:]:
        payload = payload | doc.model

    def count_gap(gap: Gap) -> None:
        if metrics is not None:
            outcome = "accepted" if gap.accepted else "refetched"
            metrics.record_gaps.labels(names[gap.partition.topic], outcome).inc()

    # Records a broker left out of a fetch (Tansu does, see record_gaps.py) are fetched again.
    guard = RecordGapGuard(on_gap=count_gap)

    # When the previous batch ended: the time until the next one starts is the fetch.
    finished: list[float] = []

    async def consume(body: Annotated[Any, SkipValidation]) -> None:
        # Not a `message: KafkaMessage` parameter: FastStream resolves that through a sync
        # context lookup run in a thread, a thread hop per batch.
        message: KafkaMessage = broker.context.get_local("message")
        started = time.perf_counter()
        held = _hold_fetches(message.consumer, len(body), settings.batch_size_max)
        next_fetch_at = asyncio.get_running_loop().time() + settings.fetch_linger_ms / 1000
        if metrics is not None and finished:
            metrics.stage_seconds.labels("idle").observe(started - finished[0])
        epoch = commits.begin()
        try:
            admitted = guard.admit(body)
            records = [
                Record(names[r.topic], r.partition, r.offset, r.key, r.value)
                for r in admitted.records
            ]
            try:
                published = await on_batch(records) if records else None
            except BaseException:
                # Positions already moved past this batch: rewind so it is consumed again.
                await message.nack()
                guard.failed(message.consumer, admitted)
                raise
            # A gap's partition goes back to the gap; the commit covers only records handled.
            guard.done(message.consumer, admitted)
            if published is not None:
                # Committed once acknowledged, while the next batch is fetched and applied.
                consumer = cast(Committer, message.consumer)  # aiokafka's consumer
                commits.after(consumer, epoch, published, admitted.records)
        finally:
            # Not when stopping: the consumer was paused to take no new batch.
            if not commits.closing:
                _release_fetches(
                    message.consumer, held, not_before=next_fetch_at, stopping=commits.is_closing
                )
            commits.end()
        finished[:] = [time.perf_counter()]

    consume.__annotations__["body"] = Annotated[payload, SkipValidation]
    subscriber = broker.subscriber(
        *names,
        batch=True,
        max_records=settings.batch_size_max,
        # Polls are local; the broker is asked by aiokafka's fetcher, whatever this is.
        batch_timeout_ms=POLL_WAIT_MS,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_poll_interval_ms=300_000,
        # Range, not FastStream's round-robin default: partition N of every input topic goes
        # to the same worker, and every topic is keyed by account.
        partition_assignment_strategy=(RangePartitionAssignor,),
        decoder=_raw_records,
        title=title,
        description="; ".join(f"{doc.topic}: {doc.description}" for doc in consumes),
        listener=guard.listener(lambda: subscriber.consumer),
    )
    subscriber(consume)
    _poll_without_sleeping(subscriber, settings.batch_size_max)
    commits.consumer = lambda: subscriber.consumer


def _poll_without_sleeping(subscriber: Any, max_records: int) -> None:
    """Polls again at once after a poll that brought nothing.

    FastStream's batch subscriber sleeps its whole poll timeout after an empty poll
    (`BatchSubscriber.get_msg`), so records arriving after a quiet moment waited up to that
    much more: 200 ms made the bench's first decisions after a lull wait 80-190 ms, and with 10
    ms an idle consumer polled and slept 50 times a second, 4% of a core doing nothing.
    aiokafka's `getmany` returns as soon as records arrive, so without the sleep a poll can
    wait long (`POLL_WAIT_MS`) at no cost in latency. FastStream's consume loop calls this
    method of the subscriber; it ends when the consumer stops (ConsumerStoppedError)."""

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        batches = await consumer.getmany(timeout_ms=POLL_WAIT_MS, max_records=max_records)
        return tuple(record for records in batches.values() for record in records)

    subscriber.get_msg = get_msg


def _hold_fetches(consumer: Any, batch_size: int, batch_size_max: int) -> list[Any]:
    """Holds a caught-up consumer's next fetch until its batch is applied; returns what to
    release then.

    aiokafka fetches again as soon as a batch is handed over, and keeps what comes back until
    the next poll: a consumer that has caught up would then get, after applying this batch,
    only the few records that arrived in the moment after it was handed over, and the ones
    that arrived while it was applied would wait a whole batch more. Fetched after the apply,
    the next batch holds all of them (measured: p50 98 -> 71 ms at 2,000 authorizes/s,
    docs/performance.md). A full batch means more is waiting: then the fetch goes ahead, and
    overlaps the apply.

    A held fetch is released no sooner than TABS_FETCH_LINGER_MS after the batch arrived
    (`_release_fetches`): records gather meanwhile, so a consumer keeping up with a steady
    rate makes fewer, larger batches, each a transaction and a fetch fewer."""
    if batch_size >= batch_size_max:
        return []
    # Only those not paused already: what someone else paused stays theirs to resume.
    partitions = list(consumer.assignment() - consumer.paused())
    consumer.pause(*partitions)
    return partitions


def _release_fetches(
    consumer: Any,
    held: list[Any],
    *,
    not_before: float,
    stopping: Callable[[], bool],
) -> None:
    """Resumes the held partitions now, or at `not_before` (the event loop's clock) unless the
    consumer is stopping by then."""
    if not held:
        return
    loop = asyncio.get_running_loop()
    delay = not_before - loop.time()
    if delay <= 0:
        _resume(consumer, held)
        return

    def resume() -> None:
        if stopping():
            return
        try:
            _resume(consumer, held)
        except Exception as error:  # the consumer stopped some other way meanwhile
            log.debug("could not resume the held partitions: %s", error)

    loop.call_later(delay, resume)


def _resume(consumer: Any, held: list[Any]) -> None:
    # A rebalance meanwhile replaced the assignment: only partitions still assigned resume.
    still = [tp for tp in held if tp in consumer.assignment()]
    if still:
        consumer.resume(*still)


class Publishers:
    """One FastStream publisher per produced topic (they document the topic in AsyncAPI)."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: RuntimeSettings,
        produces: Sequence[TopicDoc],
        dead_letters_of: Sequence[str],
    ) -> None:
        self._broker = broker
        self._by_topic: dict[str, DefaultPublisher] = {}
        self._names = {doc.topic: settings.topic(doc.topic) for doc in produces}
        self._names |= {
            dead_letter_topic(t): settings.topic(dead_letter_topic(t)) for t in dead_letters_of
        }
        for doc in produces:
            self._by_topic[doc.topic] = broker.publisher(
                settings.topic(doc.topic),
                schema=doc.model,
                title=f"{doc.topic}:publish",
                description=doc.description,
            )
        for topic in dead_letters_of:
            name = dead_letter_topic(topic)
            self._by_topic[name] = broker.publisher(
                settings.topic(name),
                schema=DeadLetter,
                title=f"{name}:publish",
                description=f"Records of {topic} that could not be used, kept whole.",
            )

    @property
    def topics(self) -> list[str]:
        return list(self._by_topic)

    def aiokafka_producer(self) -> AIOKafkaProducer | None:
        """The broker's aiokafka producer, once connected (None before, or if FastStream's
        internals move: then publishing goes through the FastStream publishers)."""
        try:
            producer = self._broker.config.producer._producer.producer  # type: ignore[attr-defined]
        except Exception:  # not connected (FastStream raises), or moved
            return None
        return producer if isinstance(producer, AIOKafkaProducer) else None

    async def send(self, messages: Sequence[Outgoing]) -> Awaitable[None]:
        """Hands every message to the producer now, in order; returns what completes when the
        broker has acknowledged them all (or raises the first failure)."""
        producer = self.aiokafka_producer()
        if producer is None:
            await self.publish(messages)
            return _nothing()
        sent = await send_in_batches(
            producer,
            [
                (self._names[m.topic], m.key.encode() if m.key is not None else None, m.value)
                for m in messages
            ],
            _JSON_HEADERS,
        )
        return _all_of(sent)

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Sends all, then waits for every acknowledgement (one round trip, not one each).

        Straight to aiokafka: the FastStream publishers (kept for the AsyncAPI document)
        build a command and a correlation id per message, which the hot path cannot afford.
        """
        if self.aiokafka_producer() is not None:
            await (await self.send(messages))
            return
        pending = []
        for message in messages:
            publisher = self._by_topic[message.topic]
            key = message.key.encode() if message.key is not None else None
            pending.append(
                await publisher.publish(
                    message.value,
                    key=key,
                    no_confirm=True,
                    headers={"content-type": "application/json"},
                )
            )
        await asyncio.gather(*pending)
