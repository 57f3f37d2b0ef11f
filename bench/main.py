"""The entry point `tabs bench` calls (and tests call in-process)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from bench.config import BenchConfig
from bench.machine import calibrate
from bench.profile import summarise
from bench.report import describe, print_report, write_json
from bench.run import run_bench


def run_and_report(config: BenchConfig, console: Console, command: str) -> bool:
    """Runs, prints, writes the JSON; True when every check passed (ledger, and the audience
    and the emails when measured)."""
    figures: dict[str, Any] = describe(config, command)
    figures |= run_bench(config, console)
    # Again at the end: a shared host's other work comes and goes within a run.
    figures["machine"]["after_run"] = calibrate(rounds=config.calibration_rounds).as_json()
    if config.profile_path is not None and config.profile_path.exists():
        summary = summarise(config.profile_path)
        figures["profile"] = {
            "phase": config.profile_phase,
            "samples": summary.samples,
            "busy_pct": summary.busy_pct,
            "self_by_package_pct": summary.self_by_package,
            "inclusive_by_function_pct": summary.inclusive_by_function,
        }
    print_report(figures, console)
    if config.json_path is not None:
        write_json(figures, config.json_path)
        console.print(f"figures written to {config.json_path}")
    passed: bool = figures["verification"]["passed"]
    return passed
