"""The outbox: replies committed with their effect are published after a crash, once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from services.common.clock import SystemClock
from services.common.inbox import Inbox
from services.common.messages import Outgoing, Record
from services.common.metrics import Metrics
from services.common.migrations import upgrade_to_head
from services.common.outbox import Outbox, OutboxRelay
from services.common.pipeline import Pipeline
from services.common.service import ServiceContext
from tests.common.harness import Tally, batches_handled, tally_event
from tests.common.tally_service import SPEC, TALLY_EVENTS, runtime
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
        outbox=Outbox(runtime),
        relay=OutboxRelay(tally.engine, Outbox(runtime), _die_before_publishing, clock),
        clock=clock,
        metrics=Metrics(SPEC.name),
    )


def as_record(event: dict[str, Any], offset: int) -> Record:
    return Record(TALLY_EVENTS, 0, offset, event["counter"].encode(), orjson.dumps(event))


async def test_replies_committed_but_never_published_go_out_once_when_a_worker_starts(
    tally: Tally,
) -> None:
    await upgrade_to_head(tally.engine, SPEC.migrations, SPEC.version_table)
    events = [tally_event("a", 2), tally_event("a", 3), tally_event("b", 5)]
    await crashing_pipeline(tally).handle([as_record(e, i) for i, e in enumerate(events)])
    assert await tally.counters() == {"a": 5, "b": 5}
    assert await tally.row_count(runtime.outbox) == 3
    async with running_worker(SPEC, tally.settings, tally.database_url) as worker:
        # Nothing was sent to the events topic: the totals come from the outbox, swept as
        # the worker starts, before it consumes.
        assert await tally.row_count(runtime.outbox) == 0
        replies = await tally.totals_for_all([e["event_id"] for e in events])
        # Longer than the sweep interval: the periodic sweep finds nothing to send again.
        await tally.output.settle(1.5)
    assert batches_handled(worker) == 0
    assert len(tally.output.messages(tally.totals_topic)) == 3
    totals = [orjson.loads(replies[e["event_id"]][0])["total"] for e in events]
    assert totals == [2, 5, 5]
    assert await tally.counters() == {"a": 5, "b": 5}
