"""What the credit pipeline alone costs a batch: `python -m bench.pipeline_cost`.

No broker: the bench's sale stream (approvals, declines near the limit, duplicates, retries and
voids) goes through the worker's `Pipeline` and credit handlers, in batches, on the embedded
PostgreSQL; what would be published is kept in a list. For each batch size it prints the
worker's CPU and PostgreSQL's per batch and per record, the wall time, and what the garbage
collector did, so a change to the hot path can be measured without the broker's and the tills'
noise. `--gc-young` sets the collector's young threshold as the worker does once it has loaded
(`services/common/worker.py`, `settle_garbage_collector`); 700 is Python's default.

Nothing is asserted: this is a measuring tool, like `bench.broker_fetch`.
"""

from __future__ import annotations

import asyncio
import gc
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import psutil
import typer

from bench.workload import SaleStream, open_account_command, plan_accounts
from services.common.clock import SetClock
from services.common.database import create_engine
from services.common.inbox import Inbox
from services.common.messages import Outgoing, Record
from services.common.metrics import Metrics
from services.common.migrations import upgrade_to_head
from services.common.pipeline import Pipeline
from services.common.service import ServiceContext
from services.credit.app import SPEC
from services.credit.settings import CreditSettings
from services.local.postgres import EmbeddedPostgres
from shared.topics import ACCOUNT_COMMANDS, POS_SALES

_WARM_UP_BATCHES = 2


@dataclass
class Collections:
    """The collector's runs and the time they took, by generation."""

    runs: list[int] = field(default_factory=lambda: [0, 0, 0])
    seconds: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self.runs[generation] += 1
        self.seconds[generation] += time.perf_counter() - self._started


@dataclass(frozen=True)
class BatchCost:
    size: int
    batches: int
    worker_cpu_ms: float
    database_cpu_ms: float
    wall_ms: float
    collections: list[int]
    collection_ms: float


class _Published:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        self.count += len(messages)


def _database_cpu_s(postmaster: psutil.Process) -> float:
    total = 0.0
    for process in [postmaster, *postmaster.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def measure(
    sizes: list[int], batches: int, accounts: int, gc_young: int, *, unlocked_reads: bool = True
) -> list[BatchCost]:
    with (
        tempfile.TemporaryDirectory(prefix="tabs-pipeline-") as directory,
        EmbeddedPostgres(Path(directory)) as postgres,
    ):
        assert postgres.pid is not None
        postmaster = psutil.Process(postgres.pid)
        url = await asyncio.to_thread(postgres.create_database, "pipeline_cost")
        engine = create_engine(url)
        # As the worker wires it (services/common/worker.py).
        unlocked_engine = create_engine(url, pool_size=1, key_lookups_only=True)
        try:
            await upgrade_to_head(engine, SPEC.migrations, SPEC.version_table)
            clock = SetClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
            # The worker's own wiring, with the settings' defaults.
            context = ServiceContext(CreditSettings(), engine, clock)
            pipeline = Pipeline(
                consumer_group="tabs-credit",
                engine=engine,
                handlers=SPEC.handlers(context),
                inbox=Inbox(SPEC.tables),
                publish=_Published(),
                clock=clock,
                metrics=Metrics("credit"),
                unlocked_reads=unlocked_reads,
                unlocked_engine=unlocked_engine,
            )
            plans = plan_accounts(accounts, random.Random(7), "P")
            await pipeline.handle(
                [
                    Record(
                        ACCOUNT_COMMANDS,
                        0,
                        n,
                        plan.number.encode(),
                        orjson.dumps(open_account_command(plan, f"open-{n}")),
                    )
                    for n, plan in enumerate(plans)
                ]
            )
            stream = SaleStream(plans, tills=50, seed=11, prefix="p-")
            offset = 0
            costs = []
            gc.collect()
            gc.freeze()
            thresholds = gc.get_threshold()
            gc.set_threshold(gc_young, *thresholds[1:])
            try:
                for size in sizes:
                    records = []
                    for _ in range(batches + _WARM_UP_BATCHES):
                        batch = [
                            Record(POS_SALES, 0, offset + i, sale.key, sale.value)
                            for i, sale in enumerate(stream.take(size))
                        ]
                        offset += size
                        records.append(batch)
                    costs.append(await _run(pipeline, clock, records, postmaster))
            finally:
                gc.set_threshold(*thresholds)
                gc.unfreeze()
        finally:
            await unlocked_engine.dispose()
            await engine.dispose()
    return costs


async def _run(
    pipeline: Pipeline, clock: SetClock, batches: list[list[Record]], postmaster: psutil.Process
) -> BatchCost:
    for batch in batches[:_WARM_UP_BATCHES]:
        await pipeline.handle(batch)
    timed = batches[_WARM_UP_BATCHES:]
    collections = Collections()
    gc.callbacks.append(collections)
    try:
        cpu, wall, database = time.process_time(), time.perf_counter(), _database_cpu_s(postmaster)
        for batch in timed:
            clock.advance(timedelta(milliseconds=50))
            await pipeline.handle(batch)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        database = _database_cpu_s(postmaster) - database
    finally:
        gc.callbacks.remove(collections)
    n = len(timed)
    return BatchCost(
        size=len(timed[0]),
        batches=n,
        worker_cpu_ms=1000 * cpu / n,
        database_cpu_ms=1000 * database / n,
        wall_ms=1000 * wall / n,
        collections=collections.runs,
        collection_ms=1000 * sum(collections.seconds) / n,
    )


def main(
    size: Annotated[list[int] | None, typer.Option(help="Records per batch.")] = None,
    batches: Annotated[int, typer.Option(help="Batches timed per size.", min=1)] = 40,
    accounts: Annotated[int, typer.Option(help="Accounts the sales charge.", min=1)] = 2000,
    gc_young: Annotated[
        int, typer.Option(help="The collector's young threshold (Python's default is 700).")
    ] = 50_000,
    unlocked_reads: Annotated[
        bool, typer.Option(help="Sales batches without locks first (TABS_UNLOCKED_READS).")
    ] = True,
) -> None:
    costs = measure(size or [35, 500], batches, accounts, gc_young, unlocked_reads=unlocked_reads)
    for cost in asyncio.run(costs):
        per_record = 1000 / cost.size
        worker_us, database_us = (
            per_record * c for c in (cost.worker_cpu_ms, cost.database_cpu_ms)
        )
        young, middle, old = cost.collections
        print(
            f"batches of {cost.size:>4} ({cost.batches} timed): worker CPU "
            f"{cost.worker_cpu_ms:.2f} ms a batch ({worker_us:.0f} us a record), PostgreSQL "
            f"{cost.database_cpu_ms:.2f} ms ({database_us:.0f} us), wall {cost.wall_ms:.2f} ms; "
            f"collections {young} young, {middle} middle, "
            f"{old} full, {cost.collection_ms:.2f} ms a batch",
            flush=True,
        )


if __name__ == "__main__":
    typer.run(main)
