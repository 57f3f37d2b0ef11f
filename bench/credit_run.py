"""The credit worker under load: open the accounts, offer a rate, then drain a backlog."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from rich.progress import Progress, TaskID
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.config import BenchConfig, ProfilePhase
from bench.figures import (
    cpu_per_1000,
    latencies_ms,
    latency_by_quarter,
    latency_by_second,
    latency_figures,
    rate_by_tenth,
    rate_per_s,
)
from bench.loadgen import (
    DecisionCollector,
    Published,
    Received,
    no_collector_pauses,
    publish_backlog,
    publish_open_loop,
    tills_producer,
)
from bench.processes import start_workers, stop_workers, wait_ready, worker_env
from bench.profile import Profiler
from bench.resources import ResourceMonitor
from bench.stack import Stack
from bench.worker_metrics import batch_figures
from bench.workload import SaleMessage, SaleStream, open_account_command, plan_accounts
from services.common.database import create_engine
from services.common.kafka import ensure_topics
from services.credit.tables import accounts
from services.local.stack import WorkerProcess
from shared.topics import (
    ACCOUNT_COMMANDS,
    ACCOUNT_EVENTS,
    CREDIT_DECISIONS,
    POS_SALES,
    dead_letter_topic,
)

CREDIT_TOPICS = (POS_SALES, CREDIT_DECISIONS, ACCOUNT_COMMANDS, ACCOUNT_EVENTS)
ACCOUNTS_TIMEOUT_S = 120.0
SETTLE_S = 0.5
DRAIN_COLLECTOR_FETCH_MAX_WAIT_MS = 50


class CreditRun:
    def __init__(
        self,
        config: BenchConfig,
        stack: Stack,
        database_url: str,
        monitor: ResourceMonitor,
        progress: Progress,
        run_id: str,
    ) -> None:
        self.config = config
        self.stack = stack
        self.monitor = monitor
        self.progress = progress
        self.run_id = run_id
        self.database_url = database_url
        self.engine: AsyncEngine = create_engine(database_url)
        self.plans = plan_accounts(config.accounts, random.Random(config.seed), f"{run_id}-")
        self.stream = SaleStream(self.plans, config.tills, config.seed, f"{run_id}-")
        self.producer = tills_producer(stack.bootstrap, linger_ms=config.tills_linger_ms)
        self.logs = stack.work_dir / "logs"
        self.workers: list[WorkerProcess] = []
        self.requested: list[str] = []
        self.collectors: list[DecisionCollector] = []
        self.accounts_before_backlog: list[dict[str, object]] = []
        self._generation = 0
        self._topics_in_use(1, config.collector_fetch_max_wait_ms)

    def _topics_in_use(self, generation: int, collector_fetch_max_wait_ms: int) -> None:
        """Topics and a consumer group of their own for each phase. The embedded broker takes
        about 11 s to let a group join again after its last member left, against 3 s for a new
        group (measured); the database, and so the accounts, stay the same."""
        self.prefix = f"bench-{self.run_id}-{generation}."
        self.topic = {name: self.prefix + name for name in CREDIT_TOPICS}
        self.env = worker_env(
            self.config,
            bootstrap=self.stack.bootstrap,
            topic_prefix=self.prefix,
            redis_url=self.stack.redis_url,
            consumers=self.config.consumers,
        )
        self.env["CREDIT_DATABASE_URL"] = self.database_url
        self.decisions = DecisionCollector(
            self.stack.bootstrap,
            self.topic[CREDIT_DECISIONS],
            fetch_max_wait_ms=collector_fetch_max_wait_ms,
        )
        self.collectors.append(self.decisions)

    async def _open_topics(self) -> None:
        names = [*self.topic.values(), *(dead_letter_topic(t) for t in self.topic.values())]
        await ensure_topics(self.stack.bootstrap, names, self.config.partitions)
        await self.decisions.start(self.config.partitions)

    async def start(self) -> None:
        await self.producer.start()
        await self._open_topics()

    async def close(self) -> None:
        stop_workers(self.workers)
        await self.decisions.stop()
        await self.producer.stop()
        await self.engine.dispose()

    def received(self) -> list[Received]:
        """Every decision of the run, from every phase."""
        return [r for collector in self.collectors for r in collector.received]

    def _task(self, description: str, total: int) -> TaskID:
        return self.progress.add_task(description, total=total)

    async def start_workers(self) -> None:
        self._generation += 1
        started = start_workers(
            "credit", self.config.workers, self.env, self.logs, f"-run{self._generation}"
        )
        self.workers = started
        for n, worker in enumerate(started, start=1):
            self.monitor.watch(
                f"credit worker {n} (run {self._generation})", "worker", worker.process.pid
            )
        task = self._task(f"starting {len(started)} credit worker(s)", total=1)
        await wait_ready(started)
        self.progress.update(task, completed=1)

    def stop_workers(self) -> None:
        stop_workers(self.workers)
        self.workers = []

    async def open_accounts(self) -> None:
        task = self._task("opening accounts", total=len(self.plans))
        for n, plan in enumerate(self.plans):
            command = open_account_command(plan, f"{self.prefix}c{n}")
            await self.producer.send(
                self.topic[ACCOUNT_COMMANDS], orjson.dumps(command), key=plan.number.encode()
            )
        await self.producer.flush()
        deadline = time.monotonic() + ACCOUNTS_TIMEOUT_S
        while (opened := await self._accounts_opened()) < len(self.plans):
            self.progress.update(task, completed=opened)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{opened} of {len(self.plans)} accounts opened")
            await asyncio.sleep(0.2)
        self.progress.update(task, completed=len(self.plans))

    async def _accounts_opened(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(accounts)) or 0)

    async def _account_rows(self) -> list[dict[str, object]]:
        columns = [
            accounts.c[name]
            for name in (
                "account_number",
                "currency",
                "status",
                "credit_limit",
                "restrict_credit",
                "balance",
            )
        ]
        async with self.engine.connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(select(*columns))]

    def _take(self, count: int) -> list[SaleMessage]:
        messages = self.stream.take(count)
        self.requested += [m.event_id for m in messages if m.decided]
        return messages

    async def offered_rate(self) -> dict[str, Any]:
        """Open loop at the offered rate: the latency figure."""
        config = self.config
        messages = self._take(int(config.rate_per_s * config.rate_duration_s))
        expected = sum(1 for m in messages if m.decided)
        sending = self._task(f"offering {config.rate_per_s:,.0f}/s", total=len(messages))
        since = time.monotonic()
        profiler = self._profiler("offered")
        with no_collector_pauses():
            published = await publish_open_loop(
                self.producer,
                self.topic[POS_SALES],
                messages,
                config.rate_per_s,
                lambda n: self.progress.update(sending, completed=n),
            )
            try:
                received = await self._decisions(
                    expected, since, config.drain_timeout_s, "decided (offered)"
                )
            finally:
                if profiler is not None:
                    profiler.stop()
        batches = await self._batch_figures()
        latencies = latencies_ms(published, received)
        return {
            "offered_per_s": round(config.rate_per_s, 1),
            "achieved_offered_per_s": round(published.offered_per_s, 1),
            "seconds": round(published.ended - published.began, 2),
            "decisions": len(received),
            **latency_figures(latencies),
            "by_quarter": latency_by_quarter(published, received, self.monitor),
            "by_second": latency_by_second(published, received),
            "cpu_s_per_1000": cpu_per_1000(
                self.monitor, published.began, received[-1].at, len(received)
            ),
            "worker_batches": batches,
        }

    async def backlog(self) -> tuple[dict[str, Any], Published, Sequence[Received]]:
        """Published while no worker runs, then drained: the throughput figure."""
        self.stop_workers()
        self.accounts_before_backlog = await self._account_rows()
        await self.decisions.stop()
        # No latency is taken from the drain: the collector may poll less often, which spares
        # the broker's CPU (an empty fetch is re-polled until fetch_max_wait runs out).
        self._topics_in_use(2, collector_fetch_max_wait_ms=DRAIN_COLLECTOR_FETCH_MAX_WAIT_MS)
        await self._open_topics()
        # The backlog names only its own sales, so the references start from the same state.
        self.stream.forget_recent()
        messages = self._take(self.config.backlog)
        expected = sum(1 for m in messages if m.decided)
        task = self._task("publishing the backlog", total=len(messages))
        published = await publish_backlog(
            self.producer,
            self.topic[POS_SALES],
            messages,
            lambda n: self.progress.update(task, completed=n),
        )
        since = time.monotonic()
        await self.start_workers()
        profiler = self._profiler("drain")
        try:
            received = await self._decisions(
                expected, since, self.config.drain_timeout_s, "decided (backlog)"
            )
        finally:
            if profiler is not None:
                profiler.stop()
        batches = await self._batch_figures()
        per_s, seconds = rate_per_s(received)
        figures = {
            "sale_events": len(messages),
            "decisions": len(received),
            "seconds": round(seconds, 3),
            "decisions_per_s": round(per_s, 1),
            "decisions_per_s_by_tenth": rate_by_tenth(received),
            "cpu_s_per_1000": cpu_per_1000(
                self.monitor, received[0].at, received[-1].at, len(received)
            ),
            "worker_batches": batches,
        }
        self.stop_workers()
        await self.decisions.stop()
        return figures, published, received

    async def _batch_figures(self) -> dict[str, Any]:
        # A batch's decisions go out before its timer stops: let the last one finish.
        await asyncio.sleep(SETTLE_S)
        return await asyncio.to_thread(batch_figures, self.workers)

    def _profiler(self, phase: ProfilePhase) -> Profiler | None:
        path = self.config.profile_path
        if path is None or not self.workers or phase != self.config.profile_phase:
            return None
        return Profiler(self.workers[0].process.pid, Path(path))

    async def _decisions(
        self, expected: int, since: float, timeout_s: float, label: str
    ) -> Sequence[Received]:
        task = self._task(label, total=expected)

        def progress(count: int) -> None:
            self.progress.update(task, completed=count)
            self.check_workers()

        return await self.decisions.wait_for(expected, since, timeout_s, progress)

    def check_workers(self) -> None:
        """A worker that died fails the run now, with its log, not at the timeout."""
        for worker in self.workers:
            if worker.process.poll() is not None:
                tail = worker.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"a credit worker exited; its log ends:\n{tail}")
