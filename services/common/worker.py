"""One worker: migrations, topics, the consumer pipeline, the outbox relay and HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from collections.abc import Awaitable, Sequence

from aiohttp import web
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import Clock, SystemClock
from services.common.database import create_engine, mask_url
from services.common.http import bound_port, build_http_app, serve
from services.common.inbox import Inbox
from services.common.kafka import (
    BatchHandler,
    Publishers,
    build_broker,
    ensure_topics,
    start_subscribers_together,
    subscribe,
)
from services.common.messages import Outgoing, Record
from services.common.metrics import Metrics
from services.common.migrations import upgrade_to_head
from services.common.offsets import DeferredCommits
from services.common.outbox import Outbox, OutboxRelay
from services.common.pipeline import Pipeline
from services.common.read_model import ReadModel
from services.common.service import ServiceContext, ServiceSpec
from services.common.settings import RuntimeSettings
from shared.topics import dead_letter_topic

log = logging.getLogger(__name__)

# Young objects the collector lets pile up before a collection (Python's default is 700). A
# batch's objects are freed by reference counting when it is done, so collections mid-batch
# find little garbage, yet each one scans the batch's live objects: with the default, a batch
# of 500 sales ran about 20 young, 2 middle and, every few batches, one full collection of
# 10-15 ms. The older generations keep their defaults, relative to this one.
GC_YOUNG_THRESHOLD = 50_000


def settle_garbage_collector() -> None:
    """For a process that is the worker: what is loaded now lives as long as the process, so
    it is frozen out of every collection, and collections come every GC_YOUNG_THRESHOLD young
    objects instead of every 700."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


async def _open_connections(engine: AsyncEngine, count: int) -> None:
    """Opens `count` of the pool's connections now: otherwise the first sales after a start
    wait for them (a new PostgreSQL backend each; the first second's p99 was 110-117 ms against
    68-77 with connections already open, tabs bench)."""
    # Each holds its connection until all are open, so that each opens one of its own.
    all_open = asyncio.Barrier(count)

    async def one() -> None:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
            await all_open.wait()

    await asyncio.gather(*(one() for _ in range(count)))


def build_app(
    spec: ServiceSpec,
    settings: RuntimeSettings,
    on_batch: BatchHandler | Sequence[BatchHandler],
    metrics: Metrics | None = None,
    commits: Sequence[DeferredCommits] = (),
) -> tuple[FastStream, Publishers]:
    """The FastStream app of a service, as it runs and as its AsyncAPI document shows it.

    One consumer per batch handler, all in the service's group: each gets its share of the
    partitions, and one applies its batch while another waits for the database."""
    broker = build_broker(settings, client_id=f"tabs-{spec.name}")
    publishers = Publishers(
        broker, settings, spec.produces, dead_letters_of=[doc.topic for doc in spec.consumes]
    )
    handlers = [on_batch] if callable(on_batch) else list(on_batch)
    for n, handler in enumerate(handlers):
        subscribe(
            broker,
            settings,
            group_id=spec.group_id(settings),
            consumes=spec.consumes,
            title=f"{spec.name}:consume" if n == 0 else f"{spec.name}:consume:{n + 1}",
            on_batch=handler,
            metrics=metrics,
            commits=commits[n] if n < len(commits) else None,
        )
    app = FastStream(broker, specification=AsyncAPI(title=spec.title, version=spec.version))
    return app, publishers


class Worker:
    def __init__(
        self,
        spec: ServiceSpec,
        settings: RuntimeSettings,
        database_url: str,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.clock = clock or SystemClock()
        self.metrics = Metrics(spec.name)
        self.engine = create_engine(database_url)
        # The unlocked path's two statements, planned once per connection; one connection per
        # consumer at a time.
        self.unlocked_engine = (
            create_engine(database_url, pool_size=settings.consumers, key_lookups_only=True)
            if settings.unlocked_reads and self.engine.dialect.name == "postgresql"
            else None
        )
        self._database_url = database_url
        consumers = range(settings.consumers)
        self.commits = [DeferredCommits() for _ in consumers]
        self.app, self.publishers = build_app(
            spec,
            settings,
            [functools.partial(self._on_batch, n) for n in consumers],
            self.metrics,
            self.commits,
        )
        # One per consumer: each keeps its own batches in order.
        self._pipelines: list[Pipeline] = []
        self.read_model = (
            ReadModel(
                self.engine,
                spec.views(settings),
                settings.redis_url,
                key_prefix=f"{settings.topic_prefix}tabs:",
            )
            if spec.views is not None
            else None
        )
        self.relay = OutboxRelay(
            self.engine,
            Outbox(spec.tables),
            self._publish,
            self.clock,
            sweep_interval_s=settings.outbox_sweep_interval_s,
        )
        self._context = ServiceContext(
            settings=settings,
            engine=self.engine,
            clock=self.clock,
            read_model=self.read_model,
            relay=self.relay,
        )
        self._ready = False
        self._tasks: list[asyncio.Task[None]] = []
        self._http: web.AppRunner | None = None
        self.http_port: int | None = None

    @property
    def broker(self) -> KafkaBroker:
        broker = self.app.broker
        assert isinstance(broker, KafkaBroker)
        return broker

    async def _on_batch(self, consumer: int, records: Sequence[Record]) -> Awaitable[None]:
        assert self._pipelines, "the consumers start after the pipelines"
        return await self._pipelines[consumer].apply_and_send(records)

    async def _send(self, messages: Sequence[Outgoing]) -> Awaitable[None]:
        acknowledged = await self.publishers.send(messages)
        self.metrics.count_published(message.topic for message in messages)
        return acknowledged

    async def _publish(self, messages: Sequence[Outgoing]) -> None:
        await self.publishers.publish(messages)
        self.metrics.count_published(message.topic for message in messages)

    async def start(self) -> None:
        spec, settings = self.spec, self.settings
        await upgrade_to_head(self.engine, spec.migrations, spec.version_table)
        if self.unlocked_engine is not None:
            await _open_connections(self.unlocked_engine, settings.consumers)
        topics = [doc.topic for doc in spec.consumes]
        topics += [doc.topic for doc in spec.produces]
        topics += [dead_letter_topic(doc.topic) for doc in spec.consumes]
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            [settings.topic(t) for t in dict.fromkeys(topics)],
            settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
        )
        handlers = spec.handlers(self._context)
        self._pipelines = [
            Pipeline(
                consumer_group=spec.group_id(settings),
                engine=self.engine,
                handlers=handlers,
                inbox=Inbox(spec.tables),
                publish=self._publish,
                send=self._send,
                clock=self.clock,
                metrics=self.metrics,
                retry_backoff_max_s=settings.retry_backoff_max_s,
                unlocked_reads=settings.unlocked_reads,
                unlocked_engine=self.unlocked_engine,
                after_commit=self.read_model.committed if self.read_model else None,
            )
            for _ in self.commits
        ]
        http_app = build_http_app(self.metrics, self._is_ready, settings.tokens)
        spec.routes(http_app, self._context)
        self._http = await serve(http_app, settings.http_host, settings.http_port)
        self.http_port = bound_port(self._http)
        await self.broker.connect()
        # Messages committed before a crash but never published go out before anything new.
        await self.relay.sweep(age_s=0)
        if len(self.commits) > 1:
            await start_subscribers_together(self.broker)
        else:
            await self.broker.start()
        self._tasks = [asyncio.create_task(self.relay.run(), name=f"{spec.name}-outbox-sweep")]
        if self.read_model is not None:
            self._tasks.append(asyncio.create_task(self._keep_read_model(self.read_model)))
        for task in spec.tasks(self._context):
            self._tasks.append(asyncio.create_task(task(), name=f"{spec.name}-{task.__name__}"))

        self._ready = True
        self.metrics.ready.set(1)
        log.info(
            "tabs %s worker ready: kafka=%s database=%s http=http://%s:%d group=%s",
            spec.name,
            settings.kafka_bootstrap_servers,
            mask_url(self._database_url),
            settings.http_host,
            self.http_port,
            spec.group_id(settings),
        )

    @staticmethod
    async def _keep_read_model(read_model: ReadModel) -> None:
        # A full rebuild repairs whatever a crash or a Redis outage left stale.
        await read_model.rebuild()
        await read_model.run()

    async def _is_ready(self) -> bool:
        return self._ready

    async def stop(self) -> None:
        self._ready = False
        self.metrics.ready.set(0)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # The last batches' offsets are committed once acknowledged: wait for them first.
        await asyncio.gather(*(commits.close() for commits in self.commits))
        await self.broker.stop()
        if self._http is not None:
            await self._http.cleanup()
        if self.read_model is not None:
            await self.read_model.close()
        await self.engine.dispose()
        if self.unlocked_engine is not None:
            await self.unlocked_engine.dispose()
        log.info("tabs %s worker stopped", self.spec.name)

    async def run_until_signalled(self) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await self.start()
        # The worker is the process (`tabs worker`): everything loaded so far lives as long as
        # it does. Out of the collector's way, a full collection has only the batches' objects
        # to scan (it was 30% of the worker's CPU). Not in start(): tests run many workers in
        # one process, and frozen objects are never collected.
        settle_garbage_collector()
        try:
            await stopping.wait()
        finally:
            await self.stop()
