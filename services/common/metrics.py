"""Prometheus metrics of one worker, in its own registry (tests run several workers at once)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "tabs_messages",
            "Records consumed, by topic and outcome (applied, duplicate, invalid, failed).",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.retries = Counter(
            "tabs_batch_retries",
            "Batch transactions retried, by cause (outage, conflict, contended).",
            ["cause"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "tabs_batch_seconds",
            "Time to apply one polled batch and hand its messages to the producer (the "
            "acknowledgements: tabs_batch_stage_seconds with stage publish).",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.stage_seconds = Histogram(
            "tabs_batch_stage_seconds",
            "Time one polled batch spends in each stage: validate, apply (the transaction), "
            "send (handing its messages to the producer); publish, until every acknowledgement "
            "(overlapping the next batch, whose offsets are committed after it); and idle, from "
            "the end of one batch to the start of the next (the fetch).",
            ["stage"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.published = Counter(
            "tabs_published_messages",
            "Messages published, by topic.",
            ["topic"],
            registry=self.registry,
        )
        self.record_gaps = Counter(
            "tabs_record_gaps",
            "Offset gaps in a consumed partition, by topic and outcome: refetched (the partition "
            "was rewound to the first missing offset) or accepted (still missing after the "
            "bounded refetches).",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.ready = Gauge("tabs_ready", "1 when the worker consumes.", registry=self.registry)
        self.info = Gauge(
            "tabs_service_info",
            "The service this worker runs.",
            ["service"],
            registry=self.registry,
        )
        self.info.labels(service).set(1)

    def count_messages(self, outcomes: Iterable[tuple[str, str]]) -> None:
        """One increment per (topic, outcome) of a batch: a labelled increment per message cost
        1.3 microseconds each, a few percent of a decision."""
        for (topic, outcome), count in Tally(outcomes).items():
            self.messages.labels(topic, outcome).inc(count)

    def count_published(self, topics: Iterable[str]) -> None:
        for topic, count in Tally(topics).items():
            self.published.labels(topic).inc(count)
