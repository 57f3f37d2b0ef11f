"""The figures of a run: as tables on the console, and as JSON."""

from __future__ import annotations

import dataclasses
import os
import platform
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench.config import BenchConfig
from bench.machine import calibrate


def describe(config: BenchConfig, command: str) -> dict[str, Any]:
    """The run's command and settings, and the machine as it is now (before anything starts:
    its cores' speed, so that runs on different machines can be told apart)."""
    settings = {
        key: str(value) if isinstance(value, Path) else value
        for key, value in dataclasses.asdict(config).items()
    }
    return {
        "command": command,
        "config": settings,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            **calibrate(rounds=config.calibration_rounds).as_json(),
        },
    }


def write_json(figures: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


def _cpu_row(name: str, cpu: dict[str, float | None]) -> list[str]:
    return [name, *("-" if v is None else f"{v:.3f}" for v in cpu.values())]


def print_report(figures: dict[str, Any], console: Console) -> None:
    throughput, latency = figures["throughput"], figures["latency"]
    ceiling, naive = figures["ceiling"], figures["naive"]
    main = Table(title="credit worker", show_header=True)
    main.add_column("figure")
    main.add_column("value", justify="right")
    machine = figures.get("machine", {})
    if "one_core_loop_ms" in machine:
        after = machine.get("after_run", {})
        main.add_row(
            "machine: one core's calibration loop (cores' worth, all busy), before / after",
            " / ".join(
                f"{m['one_core_loop_ms']:,.0f} ms ({m['cores_worth']:.2f} of {machine['cpus']})"
                for m in (machine, after)
                if m
            ),
        )
    main.add_row("decisions/s sustained (backlog drain)", f"{throughput['decisions_per_s']:,.0f}")
    main.add_row("  decisions / seconds", f"{throughput['decisions']:,} / {throughput['seconds']}")
    tenths = throughput["decisions_per_s_by_tenth"]
    if tenths:
        main.add_row("  by tenth of the backlog", " ".join(f"{r:,.0f}" for r in tenths))
    main.add_row(
        "offered rate (achieved)",
        f"{latency['offered_per_s']:,.0f}/s ({latency['achieved_offered_per_s']:,.0f}/s)",
    )
    for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        main.add_row(f"  latency {name.removesuffix('_ms')}", f"{latency[name]:.1f} ms")
    by_second = latency.get("by_second") or []
    if by_second:
        worst = sorted(by_second, key=lambda s: s["max_ms"], reverse=True)[:3]
        main.add_row(
            "  slowest seconds sent: second (p99 / max ms)",
            " ".join(f"{s['second']:.0f} ({s['p99_ms']:,.0f}/{s['max_ms']:,.0f})" for s in worst),
        )
    quarters = latency.get("by_quarter") or []
    if quarters:
        main.add_row(
            "  p99 by quarter sent (broker cores)",
            " ".join(f"{q['p99_ms']:,.0f} ({q['broker_cores']:.2f})" for q in quarters),
        )
    batches = [figures[phase].get("worker_batches") or {} for phase in ("latency", "throughput")]
    if all(b.get("batches") for b in batches):
        main.add_row(
            "worker batches (records each), offered / drain; applied again with locks",
            " / ".join(
                f"{b['batches']:,} ({b['mean_records_per_batch']:,.0f}); "
                f"{b.get('retries contended', 0):,}"
                for b in batches
            ),
        )
    main.add_row("ceiling: aiokafka + JSON, records/s", f"{ceiling['records_per_s']:,.0f}")
    one_at_a_time = figures.get("ceiling_one_at_a_time")
    if one_at_a_time:
        main.add_row(
            "  one record at a time (async for, json), /s",
            f"{one_at_a_time['records_per_s']:,.0f}",
        )
    main.add_row("naive: a transaction per message, /s", f"{naive['decisions_per_s']:,.0f}")
    main.add_row("  naive verdicts differing from the worker's", f"{naive['verdicts_differ']}")
    main.add_row("worker / ceiling", f"{figures['ratios']['of_ceiling']:.3f}")
    if "of_ceiling_one_at_a_time" in figures["ratios"]:
        main.add_row(
            "  worker / one-at-a-time ceiling",
            f"{figures['ratios']['of_ceiling_one_at_a_time']:.3f}",
        )
    main.add_row("worker / naive", f"{figures['ratios']['over_naive']:.2f}x")
    if figures.get("loyalty"):
        main.add_row(
            "loyalty: completed sales/s (CRM)", f"{figures['loyalty']['sales_per_s']:,.0f}"
        )
    console.print(main)
    if figures.get("mailchimp"):
        _print_mailchimp(figures["mailchimp"], console)
    if figures.get("statements"):
        _print_statements(figures["statements"], console)

    cpu = Table(title="CPU seconds per 1,000 decisions (records for the ceiling)")
    for column in ("phase", "worker / reference", "broker", "database", "bench"):
        cpu.add_column(column, justify="right")
    cpu.add_row(*_cpu_row("backlog drain", throughput["cpu_s_per_1000"]))
    cpu.add_row(*_cpu_row("offered rate", latency["cpu_s_per_1000"]))
    cpu.add_row(*_cpu_row("ceiling", ceiling["cpu_s_per_1000"]))
    if one_at_a_time:
        cpu.add_row(*_cpu_row("ceiling, one at a time", one_at_a_time["cpu_s_per_1000"]))
    cpu.add_row(*_cpu_row("naive", naive["cpu_s_per_1000"]))
    if figures.get("loyalty"):
        cpu.add_row(*_cpu_row("loyalty (CRM)", figures["loyalty"]["cpu_s_per_1000"]))
    if figures.get("statements"):
        per_statement = figures["statements"]["cpu_s_per_1000"]
        cpu.add_row(*_cpu_row("statements (per 1,000 statements)", per_statement))
    console.print(cpu)

    memory = Table(title="peak RSS per process")
    memory.add_column("process")
    memory.add_column("MB", justify="right")
    for label, mb in figures["peak_rss_mb"].items():
        memory.add_row(label, f"{mb:,.1f}")
    console.print(memory)

    goals = Table(title="targets")
    for column in ("target", "wanted", "measured", "met"):
        goals.add_column(column)
    for row in figures["targets"]:
        met = "[green]yes[/green]" if row["met"] else "[red]no[/red]"
        goals.add_row(row["target"], row["wanted"], f"{row['measured']:,}", met)
    console.print(goals)
    if "profile" in figures:
        _print_profile(figures["profile"], console)
    _print_verification(figures["verification"], console)


def _seconds(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.2f} s"


def _print_mailchimp(mailchimp: dict[str, Any], console: Console) -> None:
    table = Table(title="Mailchimp: API calls per 1,000 customer changes (CRM worker)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    gap = mailchimp["round_gap_s"]
    table.add_row(
        "customer changes published",
        f"{mailchimp['changes']:,} ({mailchimp['customers']:,} customers; "
        + (f"rounds {gap:g} s apart)" if gap else "one burst)"),
    )
    table.add_row("API calls made", f"{mailchimp['api_calls']:,}")
    per_1000 = mailchimp["calls_per_1000_changes"]
    table.add_row("[bold]calls per 1,000 changes[/bold]", f"{per_1000:,}")
    table.add_row(
        "naive: one call (a PUT) per change, per 1,000",
        f"{mailchimp['naive_calls_per_1000_changes']:,.0f}",
    )
    table.add_row("calls / naive calls", f"{mailchimp['calls_share_of_naive']}")
    table.add_row(
        "member operations per 1,000 changes (direct + in batches)",
        f"{mailchimp['member_operations_per_1000_changes']:,}",
    )
    table.add_row("audience equal to the customers after", _seconds(mailchimp["converged_s"]))
    for route, count in mailchimp["calls_by_route"].items():
        table.add_row(f"  {route}", f"{count:,}")
    console.print(table)


def _print_statements(statements: dict[str, Any], console: Console) -> None:
    table = Table(title="statements: rendered and emailed over SMTP (statements worker)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("accounts (entries)", f"{statements['accounts']:,} ({statements['entries']:,})")
    table.add_row(
        "[bold]rendered per minute[/bold]",
        f"{statements['rendered_per_min']:,.0f} (all in {_seconds(statements['rendered_s'])})",
    )
    table.add_row(
        "[bold]emailed per minute[/bold]",
        f"{statements['sent_per_min']:,.0f} (all in {_seconds(statements['sent_s'])})",
    )
    table.add_row("emails received", f"{statements['emails']:,}")
    table.add_row("mean PDF size", f"{statements['pdf_kb_mean']} KB")
    table.add_row("delivery pass interval", f"{statements['delivery_interval_s']:g} s")
    console.print(table)


def _print_profile(profile: dict[str, Any], console: Console) -> None:
    phase = "the drain" if profile.get("phase", "drain") == "drain" else "the offered rate"
    table = Table(title=f"worker 1 profile: busy {profile['busy_pct']}% of {phase}")
    table.add_column("own time, by package (% of busy)")
    table.add_column("%", justify="right")
    table.add_column("inclusive, by function (% of busy)")
    table.add_column("%", justify="right")
    own, inclusive = profile["self_by_package_pct"], profile["inclusive_by_function_pct"]
    for n in range(max(len(own), len(inclusive))):
        left = own[n] if n < len(own) else ("", "")
        right = inclusive[n] if n < len(inclusive) else ("", "")
        table.add_row(str(left[0]), str(left[1]), str(right[0]), str(right[1]))
    console.print(table)


def _print_verification(verification: dict[str, Any], console: Console) -> None:
    for name, ok in verification["checks"].items():
        console.print(f"  {'[green]ok[/green]' if ok else '[red]FAILED[/red]'}  {name}")
    counts = ", ".join(f"{k} {v:,}" for k, v in verification["counts"].items())
    console.print(f"  ({counts})")
    for problem in verification["problems"]:
        console.print(f"  [red]{problem}[/red]", markup=True, highlight=False)
    if verification["passed"]:
        console.print("[bold green]PASS[/bold green]: every check passed")
    else:
        console.print("[bold red]FAIL[/bold red]: a check failed")
