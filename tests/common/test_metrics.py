"""A batch's messages are counted per topic and outcome, as one increment each."""

from __future__ import annotations

from services.common.metrics import Metrics


def _value(metrics: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_messages_of_a_batch_are_counted_by_topic_and_outcome() -> None:
    metrics = Metrics("credit")
    metrics.count_messages(
        [("a", "applied"), ("a", "duplicate"), ("a", "applied"), ("b", "applied")]
    )
    metrics.count_messages([("a", "applied")])
    assert _value(metrics, "tabs_messages_total", {"topic": "a", "outcome": "applied"}) == 3
    assert _value(metrics, "tabs_messages_total", {"topic": "a", "outcome": "duplicate"}) == 1
    assert _value(metrics, "tabs_messages_total", {"topic": "b", "outcome": "applied"}) == 1
    assert _value(metrics, "tabs_messages_total", {"topic": "b", "outcome": "duplicate"}) is None


def test_published_messages_are_counted_by_topic() -> None:
    metrics = Metrics("credit")
    metrics.count_published(["decisions", "events", "decisions"])
    metrics.count_published([])
    assert _value(metrics, "tabs_published_messages_total", {"topic": "decisions"}) == 2
    assert _value(metrics, "tabs_published_messages_total", {"topic": "events"}) == 1
