"""`tabs bench`: measure the credit path (see bench/)."""

from __future__ import annotations

import enum
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from bench.config import BenchConfig

# The defaults are the config's: one place to change them.
_DEFAULT = BenchConfig()
DEFAULTS_NOTE = "; --quick lowers it"


class Phase(enum.StrEnum):
    drain = "drain"
    offered = "offered"


def bench(
    tills: Annotated[int, typer.Option(help="Simulated tills.", min=1)] = _DEFAULT.tills,
    accounts: Annotated[
        int, typer.Option(help="Accounts the tills charge.", min=1)
    ] = _DEFAULT.accounts,
    workers: Annotated[
        int, typer.Option(help="Credit worker processes (one per core here).", min=1)
    ] = _DEFAULT.workers,
    partitions: Annotated[
        int,
        typer.Option(
            help="Partitions per topic; 0: one per consumer (workers x consumers).", min=0
        ),
    ] = 0,
    rate: Annotated[
        float, typer.Option(help="Offered authorizes/s, open loop (the latency figure).", min=1)
    ] = _DEFAULT.rate_per_s,
    duration: Annotated[
        float, typer.Option(help="Seconds the rate is offered" + DEFAULTS_NOTE, min=0.5)
    ] = _DEFAULT.rate_duration_s,
    backlog: Annotated[
        int, typer.Option(help="Sale events drained for the throughput figure" + DEFAULTS_NOTE)
    ] = _DEFAULT.backlog,
    naive_records: Annotated[
        int, typer.Option(help="Backlog records the naive handler gets" + DEFAULTS_NOTE, min=1)
    ] = _DEFAULT.naive_records,
    database_url: Annotated[
        str | None,
        typer.Option(help="A PostgreSQL server to create the run's databases on."),
    ] = None,
    sqlite: Annotated[bool, typer.Option(help="SQLite files instead of PostgreSQL.")] = False,
    redis: Annotated[bool, typer.Option(help="Keep the credit read model in Redis.")] = False,
    fetch_max_wait_ms: Annotated[
        int, typer.Option(help="Workers' fetch_max_wait_ms.")
    ] = _DEFAULT.fetch_max_wait_ms,
    fetch_linger_ms: Annotated[
        int,
        typer.Option(
            help="Workers' TABS_FETCH_LINGER_MS: a caught-up worker fetches again no sooner "
            "than this after its last batch arrived.",
            min=0,
        ),
    ] = _DEFAULT.fetch_linger_ms,
    batch_size_max: Annotated[
        int, typer.Option(help="Workers' TABS_BATCH_SIZE_MAX.")
    ] = _DEFAULT.batch_size_max,
    unlocked_reads: Annotated[
        bool,
        typer.Option(
            help="Workers' TABS_UNLOCKED_READS: a batch of sales is first applied from one "
            "unlocked read and one guarded write (PostgreSQL)."
        ),
    ] = _DEFAULT.unlocked_reads,
    consumers: Annotated[
        int, typer.Option(help="Consumers per credit worker process (TABS_CONSUMERS).", min=1)
    ] = _DEFAULT.consumers,
    tills_linger_ms: Annotated[
        int, typer.Option(help="The tills' producer linger_ms (latency includes it).", min=0)
    ] = _DEFAULT.tills_linger_ms,
    collector_fetch_max_wait_ms: Annotated[
        int,
        typer.Option(
            help="fetch_max_wait_ms of the harness's consumer of decisions while the rate is "
            "offered (latency includes it).",
            min=1,
        ),
    ] = _DEFAULT.collector_fetch_max_wait_ms,
    loyalty: Annotated[
        bool, typer.Option(help="Also measure completed sales/s through the CRM worker.")
    ] = False,
    loyalty_sales: Annotated[
        int, typer.Option(help="Completed sales for --loyalty.")
    ] = _DEFAULT.loyalty_sales,
    mailchimp: Annotated[
        bool,
        typer.Option(help="Also count Mailchimp API calls per 1,000 customer changes (CRM)."),
    ] = False,
    mailchimp_customers: Annotated[
        int, typer.Option(help="Customers for --mailchimp, 4 changes each" + DEFAULTS_NOTE, min=1)
    ] = _DEFAULT.mailchimp_customers,
    mailchimp_round_gap_s: Annotated[
        float,
        typer.Option(help="Seconds between rounds of --mailchimp changes (0: a burst).", min=0),
    ] = _DEFAULT.mailchimp_round_gap_s,
    statements: Annotated[
        bool, typer.Option(help="Also measure statements rendered and emailed per minute.")
    ] = False,
    statements_accounts: Annotated[
        int, typer.Option(help="Accounts, one statement each" + DEFAULTS_NOTE, min=1)
    ] = _DEFAULT.statements_accounts,
    statements_delivery_interval_s: Annotated[
        float,
        typer.Option(help="The statements worker's STATEMENT_DELIVERY_INTERVAL_S.", min=0.01),
    ] = _DEFAULT.statements_delivery_interval_s,
    quick: Annotated[bool, typer.Option(help="Small counts: done in under a minute.")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write every figure to this file.")
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(help="py-spy the first worker (see --profile-phase); collapsed stacks here."),
    ] = None,
    profile_phase: Annotated[
        Phase,
        typer.Option(help="The phase --profile samples: the backlog drain or the offered rate."),
    ] = Phase.drain,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep logs and databases here (default: temporary).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the workload.")] = _DEFAULT.seed,
) -> None:
    """Measure the credit path: throughput, latency, CPU and memory, against two references;
    optionally loyalty, Mailchimp calls and statements; then check the ledger, the audience and
    the emails (FAIL and a non-zero exit when one does not hold)."""
    from rich.console import Console

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
        fetch_linger_ms=fetch_linger_ms,
        batch_size_max=batch_size_max,
        unlocked_reads=unlocked_reads,
        tills_linger_ms=tills_linger_ms,
        collector_fetch_max_wait_ms=collector_fetch_max_wait_ms,
        consumers=consumers,
        loyalty=loyalty,
        loyalty_sales=loyalty_sales,
        mailchimp=mailchimp,
        mailchimp_customers=mailchimp_customers,
        mailchimp_round_gap_s=mailchimp_round_gap_s,
        statements=statements,
        statements_accounts=statements_accounts,
        statements_delivery_interval_s=statements_delivery_interval_s,
        profile_path=profile,
        profile_phase=profile_phase.value,
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
