"""What the workers say about themselves: their Prometheus counters, read before they stop."""

from __future__ import annotations

import urllib.request
from collections.abc import Sequence
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from services.local.stack import WorkerProcess

SCRAPE_TIMEOUT_S = 5.0


def _scrape(worker: WorkerProcess) -> dict[str, float]:
    url = f"http://127.0.0.1:{worker.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("tabs_batch_seconds_count", "tabs_batch_seconds_sum"):
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
            elif sample.name == "tabs_messages_total":
                key = f"messages {sample.labels['outcome']}"
                found[key] = found.get(key, 0.0) + sample.value
            elif sample.name == "tabs_batch_stage_seconds_sum":
                key = f"stage {sample.labels['stage']}"
                found[key] = found.get(key, 0.0) + sample.value
            elif sample.name == "tabs_batch_retries_total":
                key = f"retries {sample.labels['cause']}"
                found[key] = found.get(key, 0.0) + sample.value
    return found


def batch_figures(workers: Sequence[WorkerProcess]) -> dict[str, Any]:
    """Batches applied, their mean size and mean time (all workers together)."""
    total: dict[str, float] = {}
    for worker in workers:
        for key, value in _scrape(worker).items():
            total[key] = total.get(key, 0.0) + value
    batches = total.pop("tabs_batch_seconds_count", 0.0)
    seconds = total.pop("tabs_batch_seconds_sum", 0.0)
    records = sum(v for k, v in total.items() if k.startswith("messages "))
    stages = {k.removeprefix("stage "): total.pop(k) for k in list(total) if k.startswith("stage ")}
    return {
        "batches": int(batches),
        "mean_records_per_batch": round(records / batches, 1) if batches else 0.0,
        "mean_batch_ms": round(seconds * 1000 / batches, 2) if batches else 0.0,
        # Where a batch's time goes: validate, apply (the transaction), publish.
        "mean_stage_ms": {
            stage: round(value * 1000 / batches, 2) if batches else 0.0
            for stage, value in sorted(stages.items())
        },
        **{key: int(value) for key, value in sorted(total.items())},
    }
