"""Nothing committed is left unpublished: replies of a batch whose worker died before publishing
go out when the batch is consumed again, and outbox rows a task left go out when a worker
starts. Both once, and the effects once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.common.clock import SystemClock
from services.common.inbox import Inbox
from services.common.messages import Outgoing, Record
from services.common.metrics import Metrics
from services.common.migrations import upgrade_to_head
from services.common.outbox import Outbox
from services.common.pipeline import Pipeline
from services.common.service import ServiceContext
from tests.common.harness import Tally, batches_handled, tally_event
from tests.common.tally_service import SPEC, TALLY_EVENTS, TALLY_TOTALS, runtime
from tests.support.workers import running_worker


async def _die_before_publishing(messages: Sequence[Outgoing]) -> None:
    raise ConnectionResetError("the worker died after its commit, before publishing")


def crashing_pipeline(tally: Tally) -> Pipeline:
    """A tally pipeline on the real database whose worker dies right after each commit."""
    clock = SystemClock()
    context = ServiceContext(settings=tally.settings, engine=tally.engine, clock=clock)
    return Pipeline(
        consumer_group=SPEC.group_id(tally.settings),
        engine=tally.engine,
        handlers=SPEC.handlers(context),
        inbox=Inbox(runtime),
        publish=_die_before_publishing,
        publish_attempts_max=1,
        clock=clock,
        metrics=Metrics(SPEC.name),
    )


def as_record(event: dict[str, Any], offset: int) -> Record:
    return Record(TALLY_EVENTS, 0, offset, event["counter"].encode(), orjson.dumps(event))


async def test_replies_committed_but_never_published_go_out_once_when_consumed_again(
    tally: Tally,
) -> None:
    await upgrade_to_head(tally.engine, SPEC.migrations, SPEC.version_table)
    events = [tally_event("a", 2), tally_event("a", 3), tally_event("b", 5)]
    for event in events:
        await tally.send(event)
    # The batch is applied and committed, and the worker dies before it publishes: the
    # pipeline raises, so its offsets are never committed.
    with pytest.raises(ConnectionResetError):
        await crashing_pipeline(tally).handle([as_record(e, i) for i, e in enumerate(events)])
    assert await tally.counters() == {"a": 5, "b": 5}
    async with running_worker(SPEC, tally.settings, tally.database_url):
        # The next worker consumes the same records: each is a duplicate, and its stored
        # replies are published.
        replies = await tally.totals_for_all([e["event_id"] for e in events])
        await tally.output.settle(1.0)
    assert len(tally.output.messages(tally.totals_topic)) == 3
    totals = [orjson.loads(replies[e["event_id"]][0])["total"] for e in events]
    assert totals == [2, 5, 5]
    assert await tally.counters() == {"a": 5, "b": 5}


async def test_outbox_rows_a_task_left_go_out_once_when_a_worker_starts(tally: Tally) -> None:
    """Messages not caused by a record (a scheduled task's) go through the outbox instead."""
    await upgrade_to_head(tally.engine, SPEC.migrations, SPEC.version_table)
    written = [
        Outgoing(TALLY_TOTALS, "t", orjson.dumps({"event_id": f"task-{n}", "total": n}))
        for n in range(3)
    ]
    async with tally.engine.begin() as conn:
        await Outbox(runtime).add(conn, written, datetime.now(UTC))
    assert await tally.row_count(runtime.outbox) == 3
    async with running_worker(SPEC, tally.settings, tally.database_url) as worker:
        # Swept as the worker starts, before it consumes.
        assert await tally.row_count(runtime.outbox) == 0
        replies = await tally.totals_for_all([f"task-{n}" for n in range(3)])
        # Longer than the sweep interval: the periodic sweep finds nothing to send again.
        await tally.output.settle(1.5)
    assert batches_handled(worker) == 0
    assert len(tally.output.messages(tally.totals_topic)) == 3
    assert [orjson.loads(replies[f"task-{n}"][0])["total"] for n in range(3)] == [0, 1, 2]
