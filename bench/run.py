"""One bench run from start to finish; every process it starts is stopped when it ends."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bench.audience import mailchimp_run
from bench.compare import References
from bench.config import BenchConfig
from bench.credit_run import CreditRun
from bench.loyalty import loyalty_run
from bench.phase import PhaseOutcome, add_checks
from bench.resources import ResourceMonitor
from bench.stack import LocalStack, Stack, create_databases, drop_databases
from bench.statements import statements_run
from bench.targets import targets
from bench.verify import verify
from shared.topics import POS_SALES


def run_bench(config: BenchConfig, console: Console) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    with contextlib.ExitStack() as cleanup:
        work_dir = config.work_dir
        if work_dir is None:
            temporary = tempfile.TemporaryDirectory(prefix="tabs-bench-")
            work_dir = Path(cleanup.enter_context(temporary))
        work_dir.mkdir(parents=True, exist_ok=True)
        parts = cleanup.enter_context(
            LocalStack(
                work_dir, server_url=config.database_url, sqlite=config.sqlite, redis=config.redis
            )
        )
        stack = parts.start()
        monitor = ResourceMonitor()
        monitor.start()
        cleanup.callback(monitor.stop)
        monitor.watch("broker (tansu)", "broker", stack.broker_pid)
        if stack.database_pid is not None:
            monitor.watch("postgresql", "database", stack.database_pid, with_children=True)
        monitor.watch("bench (tills, collectors)", "bench", os.getpid())
        with _progress(console) as progress:
            figures = asyncio.run(_phases(config, stack, monitor, progress, run_id))
        figures["peak_rss_mb"] = monitor.peak_rss_mb()
        figures["targets"] = targets(figures)
        return figures
    raise AssertionError("unreachable")


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def _phases(
    config: BenchConfig, stack: Stack, monitor: ResourceMonitor, progress: Progress, run_id: str
) -> dict[str, Any]:
    urls = await create_databases(stack, run_id)
    credit = CreditRun(config, stack, urls["credit"], monitor, progress, run_id)
    try:
        await credit.start()
        await credit.start_workers()
        await credit.open_accounts()
        # The workload is generated: out of the collector's way, so that a full collection
        # of the harness does not delay the polls that time the decisions.
        gc.freeze()
        offered = await credit.offered_rate()
        throughput, backlog, drained = await credit.backlog()
        references = References(
            bootstrap=stack.bootstrap,
            sales_topic=credit.topic[POS_SALES],
            partitions=config.partitions,
            fetch_max_wait_ms=config.fetch_max_wait_ms,
            monitor=monitor,
            progress=progress,
            work_dir=stack.work_dir,
            backlog=backlog,
        )
        ceiling = await references.ceiling()
        one_at_a_time = await references.ceiling(one_at_a_time=True)
        naive = await references.naive(
            urls["naive"], credit.accounts_before_backlog, config.naive_records, drained
        )
        loyalty = (
            await loyalty_run(config, stack, urls["crm"], monitor, progress, run_id)
            if config.loyalty
            else None
        )
        mailchimp: PhaseOutcome | None = None
        if config.mailchimp:
            mailchimp = await mailchimp_run(
                config, stack, urls["audience"], monitor, progress, run_id
            )
        statements: PhaseOutcome | None = None
        if config.statements:
            statements = await statements_run(
                config, stack, urls["statements"], monitor, progress, run_id
            )
        verification = await verify(credit.engine, credit.requested, credit.received())
        add_checks(verification, mailchimp)
        add_checks(verification, statements)
    finally:
        # The harness may run inside another process (the quick test): give its objects back.
        gc.unfreeze()
        await credit.close()
        if config.database_url is not None:
            await drop_databases(stack, urls)
    return {
        "throughput": throughput,
        "latency": offered,
        "ceiling": ceiling,
        "ceiling_one_at_a_time": one_at_a_time,
        "naive": naive,
        "ratios": {
            "of_ceiling": round(throughput["decisions_per_s"] / ceiling["records_per_s"], 4),
            "of_ceiling_one_at_a_time": round(
                throughput["decisions_per_s"] / one_at_a_time["records_per_s"], 4
            ),
            "over_naive": round(throughput["decisions_per_s"] / naive["decisions_per_s"], 2),
        },
        "loyalty": loyalty,
        "mailchimp": None if mailchimp is None else mailchimp.figures,
        "statements": None if statements is None else statements.figures,
        "verification": {
            "passed": verification.passed,
            "checks": verification.checks,
            "problems": verification.problems,
            "counts": verification.counts,
        },
    }
