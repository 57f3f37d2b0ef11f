"""Where a run stands against the issue's targets: both readings of the ceiling are judged."""

from __future__ import annotations

from typing import Any

from bench.targets import targets


def figures(of_ceiling: float, one_at_a_time: float | None) -> dict[str, Any]:
    ratios = {"of_ceiling": of_ceiling, "over_naive": 40.0}
    if one_at_a_time is not None:
        ratios["of_ceiling_one_at_a_time"] = one_at_a_time
    return {
        "throughput": {"decisions_per_s": 10_000.0},
        "latency": {"offered_per_s": 2_000.0, "p99_ms": 70.0},
        "peak_rss_mb": {"credit worker 1 (run 1)": 150.0, "broker (tansu)": 300.0},
        "ratios": ratios,
    }


def test_both_ceilings_are_judged() -> None:
    met = {t["target"]: t["met"] for t in targets(figures(0.05, 0.12))}
    assert met["share of the ceiling"] is False
    assert met["share of the one-at-a-time ceiling"] is True
    assert met["p99 ms at offered 2,000/s"] and met["worker peak RSS MB"]
    met = {t["target"]: t["met"] for t in targets(figures(0.11, 0.09))}
    assert (met["share of the ceiling"], met["share of the one-at-a-time ceiling"]) == (True, False)


def test_a_run_without_the_one_at_a_time_reference_has_no_such_row() -> None:
    names = [t["target"] for t in targets(figures(0.05, None))]
    assert "share of the one-at-a-time ceiling" not in names
    assert len(names) == 5
