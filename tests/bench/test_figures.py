"""Turning timestamps into figures."""

from __future__ import annotations

from bench.figures import (
    latencies_ms,
    latency_by_quarter,
    latency_by_second,
    percentile,
    rate_per_s,
)
from bench.loadgen import Published, Received
from bench.resources import ResourceMonitor


def _received(at: float, event: str) -> Received:
    return Received(at, event, b"{}")


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_kth_decision_answers_the_kth_sending_of_an_event() -> None:
    published = Published()
    published.at["e1"] += [1.0, 3.0]
    published.at["e2"] += [2.0]
    received = [_received(1.5, "e1"), _received(2.25, "e2"), _received(3.5, "e1")]
    assert latencies_ms(published, received) == [500.0, 250.0, 500.0]


def test_latency_by_second_shows_the_second_a_pause_hit() -> None:
    published = Published(began=10.0, ended=13.0)
    received = []
    for n, sent in enumerate([10.1, 10.6, 11.2, 11.3, 12.9]):
        published.at[f"e{n}"].append(sent)
        # A pause in the second second held its requests 200 ms.
        received.append(_received(sent + (0.2 if 11 <= sent < 12 else 0.02), f"e{n}"))
    seconds = latency_by_second(published, received)
    assert [s["second"] for s in seconds] == [0, 1, 2]
    assert [s["max_ms"] for s in seconds] == [20.0, 200.0, 20.0]


def test_latency_by_quarter_groups_requests_by_when_they_were_sent() -> None:
    published = Published(began=0.0, ended=4.0)
    received = []
    for n, sent in enumerate([0.5, 1.5, 2.5, 3.5, 3.9]):
        published.at[f"e{n}"].append(sent)
        # The later a request was sent, the longer its answer took.
        received.append(_received(sent + (n + 1) / 10, f"e{n}"))
    quarters = latency_by_quarter(published, received, ResourceMonitor())
    assert [q["p99_ms"] for q in quarters] == [100.0, 200.0, 300.0, 500.0]
    assert [q["p50_ms"] for q in quarters] == [100.0, 200.0, 300.0, 400.0]
    assert all(q["broker_cores"] == 0.0 for q in quarters)  # no broker watched


def test_decisions_of_the_first_poll_are_not_in_the_rate() -> None:
    received = [_received(10.0, "a"), _received(10.0, "b"), _received(11.0, "c")]
    assert rate_per_s(received) == (1.0, 1.0)
