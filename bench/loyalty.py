"""Loyalty: completed sales per second through the CRM worker.

The CRM answers nothing to a sale, so progress is read from its consumer group's committed
offsets (OffsetFetch with explicit partitions, which the embedded broker answers correctly).
The sales go to topics of their own, so the CRM sees only completed sales.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.progress import Progress

from bench.config import BenchConfig
from bench.figures import cpu_per_1000
from bench.loadgen import publish_backlog, tills_producer
from bench.processes import start_workers, stop_workers, wait_ready, worker_env
from bench.resources import ResourceMonitor
from bench.stack import Stack
from bench.workload import completed_sales
from services.common.kafka import ensure_topics
from shared.topics import ACCOUNT_EVENTS, CRM_CUSTOMERS, CRM_LOYALTY, POS_SALES, dead_letter_topic

POLL_INTERVAL_S = 0.05
CUSTOMERS_PER_SALE = 0.2  # a fifth as many customers as sales: most come back
ROLES = ("crm worker", "broker", "database", "bench")


async def loyalty_run(
    config: BenchConfig,
    stack: Stack,
    database_url: str,
    monitor: ResourceMonitor,
    progress: Progress,
    run_id: str,
) -> dict[str, Any]:
    prefix = f"bench-{run_id}-crm."
    consumed = [prefix + t for t in (CRM_CUSTOMERS, POS_SALES, ACCOUNT_EVENTS)]
    topics = [*consumed, prefix + CRM_LOYALTY, *(dead_letter_topic(t) for t in consumed)]
    await ensure_topics(stack.bootstrap, topics, config.partitions)
    customers = max(1, int(config.loyalty_sales * CUSTOMERS_PER_SALE))
    messages = completed_sales(config.loyalty_sales, customers, config.seed, f"{run_id}-")
    producer = tills_producer(stack.bootstrap, linger_ms=5)
    await producer.start()
    try:
        task = progress.add_task("publishing completed sales", total=len(messages))
        await publish_backlog(
            producer,
            prefix + POS_SALES,
            messages,
            lambda n: progress.update(task, completed=n),
        )
    finally:
        await producer.stop()
    env = worker_env(config, bootstrap=stack.bootstrap, topic_prefix=prefix)
    env["CRM_DATABASE_URL"] = database_url
    workers = start_workers("crm", config.workers, env, stack.work_dir / "logs")
    try:
        for n, worker in enumerate(workers, start=1):
            monitor.watch(f"crm worker {n}", "crm worker", worker.process.pid)
        await wait_ready(workers)
        task = progress.add_task("CRM: completed sales applied", total=len(messages))
        first, done = await _drained(
            stack.bootstrap,
            f"bench-{run_id}-crm-crm",
            prefix + POS_SALES,
            config.partitions,
            len(messages),
            config.drain_timeout_s,
            lambda n: progress.update(task, completed=n),
        )
    finally:
        stop_workers(workers)
    (start, applied_before), end = first, done
    counted = len(messages) - applied_before
    return {
        "completed_sales": len(messages),
        "seconds": round(end - start, 3),
        "sales_per_s": round(counted / (end - start), 1) if end > start else 0.0,
        "cpu_s_per_1000": cpu_per_1000(monitor, start, end, counted, ROLES),
    }


async def _drained(
    bootstrap: str,
    group: str,
    topic: str,
    partitions: int,
    total: int,
    timeout_s: float,
    on_progress: Any,
) -> tuple[tuple[float, int], float]:
    """((when progress was first seen, how much), when everything was committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    wanted = [TopicPartition(topic, p) for p in range(partitions)]
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            offsets = await admin.list_consumer_group_offsets(group, partitions=wanted)
            now = time.monotonic()
            committed = sum(max(meta.offset, 0) for meta in offsets.values())
            on_progress(committed)
            if committed and first is None:
                first = (now, committed)
            if committed >= total and first is not None:
                return first, now
            if now > deadline:
                raise TimeoutError(f"the CRM applied {committed} of {total} sales in time")
            await asyncio.sleep(POLL_INTERVAL_S)
    finally:
        await admin.close()
