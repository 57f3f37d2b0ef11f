"""Nothing committed is left unpublished: replies of a batch whose worker died before publishing
go out when the batch is consumed again, and outbox rows a task left go out when a worker
starts. Both once, and the effects once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
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
from services.common.pipeline import Pipeline, Publish, Send
from services.common.service import ServiceContext
from tests.common.harness import Tally, batches_handled, tally_event
from tests.common.tally_service import SPEC, TALLY_EVENTS, TALLY_TOTALS, runtime
from tests.support.workers import running_worker


async def _die_before_publishing(messages: Sequence[Outgoing]) -> None:
    raise ConnectionResetError("the worker died after its commit, before publishing")


def tally_pipeline(
    tally: Tally, publish: Publish, *, send: Send | None = None, publish_attempts_max: int
) -> Pipeline:
    """A tally pipeline on the real database, publishing through the test's hands."""
    clock = SystemClock()
    context = ServiceContext(settings=tally.settings, engine=tally.engine, clock=clock)
    return Pipeline(
        consumer_group=SPEC.group_id(tally.settings),
        engine=tally.engine,
        handlers=SPEC.handlers(context),
        inbox=Inbox(runtime),
        publish=publish,
        send=send,
        publish_attempts_max=publish_attempts_max,
        retry_backoff_max_s=0.01,
        clock=clock,
        metrics=Metrics(SPEC.name),
    )


def crashing_pipeline(tally: Tally) -> Pipeline:
    """A tally pipeline whose worker dies right after each commit."""
    return tally_pipeline(tally, _die_before_publishing, publish_attempts_max=1)


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


class Wire:
    """The producer as the pipeline sees it: sends whose acknowledgements the test decides,
    and resends (publish) that succeed or fail."""

    def __init__(self, *, resends_fail: bool = False) -> None:
        self.log: list[tuple[str, list[int]]] = []
        self.acks: list[asyncio.Future[None]] = []
        self._resends_fail = resends_fail

    @staticmethod
    def _totals(messages: Sequence[Outgoing]) -> list[int]:
        return [orjson.loads(m.value)["total"] for m in messages if m.value]

    async def send(self, messages: Sequence[Outgoing]) -> Awaitable[None]:
        self.log.append(("send", self._totals(messages)))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        self.log.append(("resend", self._totals(messages)))
        if self._resends_fail:
            raise ConnectionError("the broker is gone")


def wired_pipeline(tally: Tally, wire: Wire) -> Pipeline:
    return tally_pipeline(tally, wire.publish, send=wire.send, publish_attempts_max=2)


async def test_a_batch_is_sent_only_after_the_one_before_is_acknowledged_or_resent(
    tally: Tally,
) -> None:
    """An account's replies stay in order when a batch's acknowledgements fail: its resend
    goes out before the next batch, which is applied meanwhile."""
    await upgrade_to_head(tally.engine, SPEC.migrations, SPEC.version_table)
    wire = Wire()
    pipeline = wired_pipeline(tally, wire)
    first = await pipeline.apply_and_send([as_record(tally_event("a", 2), 0)])
    second = asyncio.create_task(pipeline.apply_and_send([as_record(tally_event("a", 3), 1)]))
    await asyncio.sleep(0.5)
    assert await tally.counters() == {"a": 5}, "the second batch is applied meanwhile"
    assert wire.log == [("send", [2])], "and not sent while the first is unacknowledged"
    wire.acks[0].set_exception(ConnectionError("acknowledgements lost"))
    confirmed = await second
    await first
    assert wire.log == [("send", [2]), ("resend", [2]), ("send", [5])]
    wire.acks[1].set_result(None)
    await confirmed


async def test_when_a_batch_cannot_be_published_the_next_is_not_sent_and_reports_it(
    tally: Tally,
) -> None:
    await upgrade_to_head(tally.engine, SPEC.migrations, SPEC.version_table)
    wire = Wire(resends_fail=True)
    pipeline = wired_pipeline(tally, wire)
    first = await pipeline.apply_and_send([as_record(tally_event("a", 2), 0)])
    wire.acks[0].set_exception(ConnectionError("acknowledgements lost"))
    second = await pipeline.apply_and_send([as_record(tally_event("a", 3), 1)])
    # Both report failure, so both are consumed again (offsets.py) and their stored replies
    # published then; the second batch's were never sent ahead of the first's.
    with pytest.raises(ConnectionError):
        await first
    with pytest.raises(ConnectionError):
        await second
    assert wire.log == [("send", [2]), ("resend", [2])]
    assert await tally.counters() == {"a": 5}
    # The batch after them is sent again as usual.
    third = await pipeline.apply_and_send([as_record(tally_event("b", 1), 2)])
    assert wire.log[-1] == ("send", [1])
    wire.acks[-1].set_result(None)
    await third
