"""The two references, each on the backlog's very records: the ceiling and the naive handler."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from rich.progress import Progress

from bench.figures import cpu_per_1000, rate_per_s
from bench.loadgen import DecisionCollector, Published, Received
from bench.naive import prepare
from bench.processes import ReferenceProcess
from bench.references import Window, offsets_arg
from bench.resources import ResourceMonitor
from services.common.database import create_engine
from services.common.kafka import ensure_topics

REFERENCE_TIMEOUT_S = 900.0
REFERENCE_ROLES = ("reference", "broker", "database", "bench")


class References:
    def __init__(
        self,
        *,
        bootstrap: str,
        sales_topic: str,
        partitions: int,
        fetch_max_wait_ms: int,
        monitor: ResourceMonitor,
        progress: Progress,
        work_dir: Path,
        backlog: Published,
    ) -> None:
        self._bootstrap = bootstrap
        self._sales_topic = sales_topic
        self._partitions = partitions
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._monitor = monitor
        self._progress = progress
        self._work_dir = work_dir
        self._backlog = backlog

    def _args(self, name: str, count: int, out_name: str | None = None) -> tuple[list[str], Path]:
        out = self._work_dir / f"{out_name or name}.json"
        args = [
            "--bootstrap",
            self._bootstrap,
            "--topic",
            self._sales_topic,
            "--start",
            offsets_arg(self._backlog.first_offsets),
            "--count",
            str(count),
            "--fetch-max-wait-ms",
            str(self._fetch_max_wait_ms),
            "--out",
            str(out),
        ]
        return args, out

    async def _run(self, name: str, args: list[str], label: str | None = None) -> None:
        label = label or name
        task = self._progress.add_task(f"reference: {label}", total=None)
        process = ReferenceProcess(f"bench.{name}", args, self._work_dir / "logs" / f"{label}.log")
        try:
            self._monitor.watch(label, "reference", process.pid)
            await process.wait(REFERENCE_TIMEOUT_S)
        finally:
            process.stop()
        self._progress.update(task, total=1, completed=1)

    async def ceiling(self, *, one_at_a_time: bool = False) -> dict[str, Any]:
        """aiokafka reading and decoding the backlog, nothing else (bench/ceiling.py)."""
        label = "ceiling, one at a time" if one_at_a_time else "ceiling"
        args, out = self._args("ceiling", self._backlog.count, label.replace(", ", "-"))
        if one_at_a_time:
            args.append("--one-at-a-time")
        await self._run("ceiling", args, label)
        window = Window.read(out)
        seconds = window.ended - window.began
        return {
            "records": window.count,
            "seconds": round(seconds, 3),
            "records_per_s": round(window.count / seconds, 1),
            "cpu_s_per_1000": cpu_per_1000(
                self._monitor, window.began, window.ended, window.count, REFERENCE_ROLES
            ),
        }

    async def naive(
        self,
        database_url: str,
        accounts: Sequence[dict[str, object]],
        records: int,
        worker_decisions: Sequence[Received],
    ) -> dict[str, Any]:
        """One transaction per message, on its own tables seeded as the backlog found them."""
        engine = create_engine(database_url)
        try:
            await prepare(engine, accounts)
        finally:
            await engine.dispose()
        replies_topic = f"{self._sales_topic}.naive-decisions"
        await ensure_topics(self._bootstrap, [replies_topic], self._partitions)
        replies = DecisionCollector(self._bootstrap, replies_topic, fetch_max_wait_ms=5)
        await replies.start(self._partitions)
        try:
            args, out = self._args("naive", min(records, self._backlog.count))
            args += ["--replies-topic", replies_topic, "--database-url", database_url]
            await self._run("naive", args)
            window = Window.read(out)
            received = await replies.wait_for(window.replies, 0.0, 60.0, lambda n: None)
        finally:
            await replies.stop()
        per_s, seconds = rate_per_s(received)
        return {
            "records": window.count,
            "decisions": len(received),
            "seconds": round(seconds, 3),
            "decisions_per_s": round(per_s, 1),
            "cpu_s_per_1000": cpu_per_1000(
                self._monitor, received[0].at, received[-1].at, len(received), REFERENCE_ROLES
            ),
            **_agreement(worker_decisions, received),
        }


def _agreement(worker: Sequence[Received], naive: Sequence[Received]) -> dict[str, int]:
    """The naive handler must reach the worker's verdicts, or it is not a fair reference."""

    def verdicts(received: Sequence[Received]) -> dict[str, str]:
        return {r.request_event_id: orjson.loads(r.value)["decision"] for r in received}

    mine, theirs = verdicts(worker), verdicts(naive)
    same = sum(1 for event, verdict in theirs.items() if mine.get(event) == verdict)
    return {"verdicts_agree": same, "verdicts_differ": len(theirs) - same}
