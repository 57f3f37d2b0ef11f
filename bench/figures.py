"""Turning timestamps into figures: rates, latency percentiles, CPU per 1,000 decisions."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from bench.loadgen import Published, Received
from bench.resources import ResourceMonitor

ROLES = ("worker", "broker", "database", "bench")
# Below this a tenth is a batch or two, and its rate says nothing.
TENTHS_DECISIONS_MIN = 20_000


def rate_per_s(received: Sequence[Received]) -> tuple[float, float]:
    """(decisions per second, seconds) from the first decision to the last.

    The decisions of the first poll arrived before the clock started, so they are not counted
    in the rate: the rate is over the intervals actually measured.
    """
    if len(received) < 2:
        return 0.0, 0.0
    first, last = received[0].at, received[-1].at
    counted = sum(1 for r in received if r.at > first)
    seconds = last - first
    return (counted / seconds if seconds > 0 else 0.0), seconds


def rate_by_tenth(received: Sequence[Received]) -> list[float]:
    """The rate in each tenth of the decisions: shows a worker slowing as its tables grow."""
    if len(received) < TENTHS_DECISIONS_MIN:
        return []
    size = len(received) // 10
    rates = []
    for tenth in range(10):
        chunk = received[tenth * size : (tenth + 1) * size + 1]
        seconds = chunk[-1].at - chunk[0].at
        rates.append(round((len(chunk) - 1) / seconds, 1) if seconds > 0 else 0.0)
    return rates


def latencies_ms(published: Published, received: Sequence[Received]) -> list[float]:
    """Publish-to-decision times: the k-th decision for an event answers its k-th sending."""
    return [latency for _, latency in _sent_and_latency(published, received)]


def _sent_and_latency(
    published: Published, received: Sequence[Received]
) -> list[tuple[float, float]]:
    answered: Counter[str] = Counter()
    found = []
    for r in received:
        sent = published.at.get(r.request_event_id, [])
        k = answered[r.request_event_id]
        answered[r.request_event_id] += 1
        if k < len(sent):
            found.append((sent[k], (r.at - sent[k]) * 1000.0))
    return found


def latency_by_second(published: Published, received: Sequence[Received]) -> list[dict[str, float]]:
    """p99 and max of the requests sent in each second of the offered time: one pause of a
    fifth of a second anywhere in the run (a collection, a checkpoint) is 1% of its requests,
    and so its p99; this shows when."""
    seconds: dict[int, list[float]] = {}
    for sent, latency in _sent_and_latency(published, received):
        seconds.setdefault(int(sent - published.began), []).append(latency)
    return [
        {
            "second": second,
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values), 1),
        }
        for second, values in sorted(seconds.items())
    ]


def latency_by_quarter(
    published: Published, received: Sequence[Received], monitor: ResourceMonitor
) -> list[dict[str, float]]:
    """p50 and p99 of the requests sent in each quarter of the offered time, with the cores
    the broker kept busy then: shows latency that grows with the run (on the embedded broker
    a fetch costs more the more record batches a partition holds; docs/performance.md)."""
    span = published.ended - published.began
    if span <= 0:
        return []
    quarters: list[list[float]] = [[], [], [], []]
    for sent, latency in _sent_and_latency(published, received):
        quarters[min(3, max(0, int((sent - published.began) / span * 4)))].append(latency)
    figures = []
    for n, values in enumerate(quarters):
        start = published.began + span * n / 4
        figures.append(
            {
                "p50_ms": round(percentile(values, 50), 2),
                "p99_ms": round(percentile(values, 99), 2),
                "broker_cores": round(
                    monitor.cpu_s("broker", start, start + span / 4) / (span / 4), 3
                ),
            }
        )
    return figures


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


def latency_figures(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values, default=0.0), 2),
    }


def cpu_per_1000(
    monitor: ResourceMonitor, start: float, end: float, count: int, roles: Sequence[str] = ROLES
) -> dict[str, float | None]:
    """CPU seconds each role spent per 1,000 decisions; None for a role nobody watched."""
    watched = set(monitor.roles())
    return {
        role: round(monitor.cpu_s(role, start, end) * 1000.0 / count, 4)
        if role in watched and count
        else None
        for role in roles
    }
