"""`tabs bench --quick` end to end: it runs, the ledger check passes, every figure is there.

Speed is never asserted: this machine is shared and noisy. Plausible means present and > 0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

QUICK_TIMEOUT_S = 120


def _positive(figures: dict[str, Any], *names: str) -> None:
    for name in names:
        value = figures[name]
        assert isinstance(value, int | float) and value > 0, f"{name} = {value!r}"


def test_quick_bench_passes_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "bench", "--quick", "--json", str(out)],
        capture_output=True,
        timeout=QUICK_TIMEOUT_S,
        check=False,
    )
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert done.returncode == 0, output[-4000:]
    assert "PASS" in output
    figures = orjson.loads(out.read_bytes())

    verification = figures["verification"]
    assert verification["passed"] and not verification["problems"]
    assert all(verification["checks"].values())
    assert verification["counts"]["decisions approved"] > 0
    assert verification["counts"]["decisions insufficient_credit"] > 0

    throughput = figures["throughput"]
    _positive(throughput, "decisions", "seconds", "decisions_per_s")
    _positive(throughput["cpu_s_per_1000"], "worker", "broker", "database", "bench")
    latency = figures["latency"]
    _positive(latency, "achieved_offered_per_s", "decisions", "p50_ms", "p95_ms", "p99_ms")
    assert latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    _positive(latency["cpu_s_per_1000"], "worker", "broker", "database")
    _positive(figures["ceiling"], "records", "records_per_s")
    _positive(figures["ceiling_one_at_a_time"], "records", "records_per_s")
    # Both read every record of the backlog.
    assert figures["ceiling_one_at_a_time"]["records"] == figures["ceiling"]["records"]
    _positive(figures["naive"], "decisions", "decisions_per_s")
    assert figures["naive"]["verdicts_differ"] == 0
    _positive(figures["ratios"], "of_ceiling", "of_ceiling_one_at_a_time", "over_naive")
    peaks = figures["peak_rss_mb"]
    assert {"broker (tansu)", "postgresql", "credit worker 1 (run 1)"} <= peaks.keys()
    _positive(peaks, *peaks)
    assert [t["target"] for t in figures["targets"]] == [
        "decisions/s sustained",
        "share of the ceiling",
        "share of the one-at-a-time ceiling",
        "multiple of the naive handler",
        f"p99 ms at offered {figures['latency']['offered_per_s']:,.0f}/s",
        "worker peak RSS MB",
    ]

    checks = verification["checks"]
    assert checks["mailchimp: the audience equals every customer's final state"]
    assert checks["statements: every account got exactly one email, to its address"]
    mailchimp = figures["mailchimp"]
    _positive(mailchimp, "changes", "api_calls", "calls_per_1000_changes", "converged_s")
    _positive(mailchimp, "member_operations", "naive_calls", "calls_share_of_naive")
    assert mailchimp["naive_calls"] == mailchimp["changes"]
    assert sum(mailchimp["calls_by_route"].values()) == mailchimp["api_calls"]
    statements = figures["statements"]
    _positive(statements, "accounts", "rendered_s", "sent_s", "rendered_per_min", "sent_per_min")
    assert statements["emails"] == statements["accounts"]
    _positive(statements["cpu_s_per_1000"], "statements worker")
    assert {"crm worker (mailchimp) 1", "statements worker 1"} <= peaks.keys()
    assert figures["command"].startswith("tabs bench")
    machine = figures["machine"]
    _positive(machine, "cpus", "one_core_loop_ms", "cores_worth")
    assert len(machine["all_cores_loop_ms"]) == machine["cpus"]
    _positive(machine["after_run"], "one_core_loop_ms", "cores_worth")
