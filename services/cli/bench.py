"""`tabs bench`: measure the credit path (see bench/)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

DEFAULTS_NOTE = "; --quick lowers it"


def bench(
    tills: Annotated[int, typer.Option(help="Simulated tills.", min=1)] = 50,
    accounts: Annotated[int, typer.Option(help="Accounts the tills charge.", min=1)] = 2_000,
    workers: Annotated[int, typer.Option(help="Credit worker processes.", min=1)] = 1,
    partitions: Annotated[int, typer.Option(help="Partitions per topic.", min=1)] = 6,
    rate: Annotated[
        float, typer.Option(help="Offered authorizes/s, open loop (the latency figure).", min=1)
    ] = 2_000.0,
    duration: Annotated[
        float, typer.Option(help="Seconds the rate is offered" + DEFAULTS_NOTE, min=0.5)
    ] = 20.0,
    backlog: Annotated[
        int, typer.Option(help="Sale events drained for the throughput figure" + DEFAULTS_NOTE)
    ] = 60_000,
    naive_records: Annotated[
        int, typer.Option(help="Backlog records the naive handler gets" + DEFAULTS_NOTE, min=1)
    ] = 6_000,
    database_url: Annotated[
        str | None,
        typer.Option(help="A PostgreSQL server to create the run's databases on."),
    ] = None,
    sqlite: Annotated[bool, typer.Option(help="SQLite files instead of PostgreSQL.")] = False,
    redis: Annotated[bool, typer.Option(help="Keep the credit read model in Redis.")] = False,
    fetch_max_wait_ms: Annotated[int, typer.Option(help="Workers' fetch_max_wait_ms.")] = 5,
    batch_size_max: Annotated[int, typer.Option(help="Workers' TABS_BATCH_SIZE_MAX.")] = 500,
    loyalty: Annotated[
        bool, typer.Option(help="Also measure completed sales/s through the CRM worker.")
    ] = False,
    loyalty_sales: Annotated[int, typer.Option(help="Completed sales for --loyalty.")] = 20_000,
    quick: Annotated[bool, typer.Option(help="Small counts: done in under a minute.")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write every figure to this file.")
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(help="py-spy the first worker while it drains; collapsed stacks here."),
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep logs and databases here (default: temporary).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the workload.")] = 7,
) -> None:
    """Measure the credit path: throughput, latency, CPU and memory, against two references;
    then check the ledger (FAIL and a non-zero exit when it does not hold)."""
    from rich.console import Console

    from bench.config import BenchConfig
    from bench.main import run_and_report

    if sqlite and database_url:
        raise typer.BadParameter("--sqlite and --database-url exclude each other")
    config = BenchConfig(
        tills=tills,
        accounts=accounts,
        workers=workers,
        partitions=partitions,
        rate_per_s=rate,
        rate_duration_s=duration,
        backlog=backlog,
        naive_records=naive_records,
        database_url=database_url,
        sqlite=sqlite,
        redis=redis,
        fetch_max_wait_ms=fetch_max_wait_ms,
        batch_size_max=batch_size_max,
        loyalty=loyalty,
        loyalty_sales=loyalty_sales,
        profile_path=profile,
        json_path=json_path,
        work_dir=work_dir,
        seed=seed,
    )
    if quick:
        config = config.quick()
    command = shlex.join(["tabs", *sys.argv[1:]])
    passed = run_and_report(config, Console(), command)
    if not passed:
        raise typer.Exit(1)
