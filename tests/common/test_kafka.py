"""Offsets and consumer groups: a worker commits offsets after the effect, and neither a
rebalance in the middle of a burst nor two consumers applying the same records at once loses or
doubles an effect (PostgreSQL, where writers really run concurrently)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Sequence
from typing import Any

import orjson

from services.common.kafka import POLL_WAIT_MS
from services.common.messages import Record
from services.common.worker import Worker
from tests.common.harness import Tally, messages_counted, tally_event
from tests.common.tally_service import SPEC, runtime
from tests.support.naming import unique
from tests.support.workers import running_worker


async def test_a_new_worker_in_the_group_resumes_after_the_applied_messages(tally: Tally) -> None:
    applied = [tally_event("a", 1), tally_event("b", 2), tally_event("a", 3)]
    async with running_worker(SPEC, tally.settings, tally.database_url):
        for event in applied:
            await tally.send(event)
        await tally.totals_for_all([e["event_id"] for e in applied])
    later = tally_event("b", 10)
    async with running_worker(SPEC, tally.settings, tally.database_url) as successor:
        await tally.send(later)
        [reply] = await tally.totals(later["event_id"])
        # Long enough for a redelivery of the first three (it would republish their totals).
        await tally.output.settle(0.5)
    assert messages_counted(successor, "applied") == 1
    assert messages_counted(successor, "duplicate") == 0
    assert [len(tally.totals_of(e["event_id"])) for e in applied] == [1, 1, 1]
    assert orjson.loads(reply)["total"] == 12
    assert await tally.counters() == {"a": 4, "b": 12}


async def _send_paced(
    tally: Tally, events: list[dict[str, Any]], interval_s: float, quarter_sent: asyncio.Event
) -> None:
    for number, event in enumerate(events):
        await tally.send(event)
        if number == len(events) // 4:
            quarter_sent.set()
        await asyncio.sleep(interval_s)


async def test_two_workers_and_a_rebalance_mid_burst_apply_every_message_once(
    tally_on_postgres: Tally,
) -> None:
    tally = tally_on_postgres
    events = [tally_event(f"c{n % 7}", n % 5 + 1) for n in range(200)]
    expected = Counter[str]()
    for event in events:
        expected[event["counter"]] += event["add"]
    async with running_worker(SPEC, tally.settings, tally.database_url) as first:
        quarter_sent = asyncio.Event()
        sending = asyncio.create_task(_send_paced(tally, events, 0.025, quarter_sent))
        await quarter_sent.wait()
        async with running_worker(SPEC, tally.settings, tally.database_url) as second:
            await sending
            replies = await tally.totals_for_all([e["event_id"] for e in events])
    assert await tally.counters() == dict(expected)
    assert await tally.row_count(runtime.processed) == len(events)
    assert all(len(set(sent)) == 1 for sent in replies.values()), "a repeat changed its reply"
    # Both applied some: the second joined while the burst was still coming.
    assert messages_counted(first, "applied") > 0
    assert messages_counted(second, "applied") > 0


async def test_two_consumers_racing_on_the_same_messages_apply_each_once(
    tally_on_postgres: Tally,
) -> None:
    """As when a worker dropped from its group keeps running: two consumers apply the same
    messages at the same time, and the claim of the id in the transaction of the effect lets
    exactly one of them apply each."""
    tally = tally_on_postgres
    stray = tally.settings.model_copy(update={"consumer_group_prefix": unique("g")})
    events = [tally_event(f"c{n % 3}", n % 4 + 1) for n in range(150)]
    expected = Counter[str]()
    for event in events:
        expected[event["counter"]] += event["add"]
    owner = Worker(SPEC, tally.settings, tally.database_url)
    straggler = Worker(SPEC, stray, tally.database_url)
    try:
        await asyncio.gather(owner.start(), straggler.start())
        # Sent while both consume, so that both poll each record within a few milliseconds.
        for event in events:
            await tally.send(event)
        await tally.output.wait_for(tally.totals_topic, lambda m: True, count=2 * len(events))
    finally:
        await asyncio.gather(owner.stop(), straggler.stop())
    assert await tally.counters() == dict(expected)
    assert await tally.row_count(runtime.processed) == len(events)
    for event in events:
        replies = tally.totals_of(event["event_id"])
        assert len(replies) >= 2 and len(set(replies)) == 1, "each consumer gets the one reply"
    workers = (owner, straggler)
    assert sum(messages_counted(w, "applied") for w in workers) == len(events)
    assert sum(messages_counted(w, "duplicate") for w in workers) == len(events)


async def test_a_workers_consumers_share_the_partitions_from_the_start(tally: Tally) -> None:
    """Two consumers in one worker (the default) join together: each has its share of the
    partitions as soon as the worker is started, and between them every event is applied."""
    settings = tally.settings.model_copy(update={"consumers": 2})
    events = [tally_event(counter, 1) for counter in "abcdefgh"]
    async with running_worker(SPEC, settings, tally.database_url) as worker:
        consumers = [getattr(s, "consumer", None) for s in worker.broker.subscribers]
        owned = [{(p.topic, p.partition) for p in c.assignment()} for c in consumers if c]
        for event in events:
            await tally.send(event)
        await tally.totals_for_all([e["event_id"] for e in events])
    assert len(owned) == 2
    assert all(owned), "each consumer was given partitions when the worker started"
    assert not owned[0] & owned[1]
    assert len(owned[0] | owned[1]) == settings.topic_partitions * len(SPEC.consumes)
    assert messages_counted(worker, "applied") == len(events)
    assert await tally.counters() == {counter: 1 for counter in "abcdefgh"}


async def test_a_caught_up_consumer_takes_what_arrived_while_it_applied_in_its_next_batch(
    tally: Tally,
) -> None:
    """aiokafka fetches again the moment a batch is handed over; had that fetch gone ahead,
    the next batch would hold only what came in that moment, and the rest would wait a batch
    more. The fetch is held until the batch is applied, so the next batch holds everything
    that arrived meanwhile."""
    settings = tally.settings.model_copy(update={"consumers": 1})
    first = tally_event("slow", 1)
    meanwhile = [tally_event("slow", 1) for _ in range(12)]
    sizes: list[int] = []
    async with running_worker(SPEC, settings, tally.database_url) as worker:
        [pipeline] = worker._pipelines
        apply_and_send = pipeline.apply_and_send

        async def observed(records: Sequence[Record]) -> Awaitable[None]:
            sizes.append(len(records))
            if len(sizes) == 1:
                # The others arrive one by one while the first batch is being applied.
                for event in meanwhile:
                    await tally.send(event)
                    await asyncio.sleep(0.02)
            return await apply_and_send(records)

        pipeline.apply_and_send = observed  # type: ignore[method-assign]
        await tally.send(first)
        await tally.totals_for_all([e["event_id"] for e in [first, *meanwhile]])
    assert sizes == [1, len(meanwhile)]
    assert await tally.counters() == {"slow": 1 + len(meanwhile)}


async def test_a_worker_stopping_while_it_applies_a_held_batch_takes_no_new_one(
    tally: Tally,
) -> None:
    """The batch in hand holds its consumer's fetches (see above); stopping pauses the consumer
    too, and the end of the batch must not undo that pause and let a new batch in."""
    settings = tally.settings.model_copy(update={"consumers": 1})
    first = tally_event("stop", 1)
    later = [tally_event("stop", 1) for _ in range(5)]
    sizes: list[int] = []
    applying, release = asyncio.Event(), asyncio.Event()
    worker = Worker(SPEC, settings, tally.database_url)
    await worker.start()
    stopping: asyncio.Task[None] | None = None
    try:
        [pipeline] = worker._pipelines
        apply_and_send = pipeline.apply_and_send

        async def observed(records: Sequence[Record]) -> Awaitable[None]:
            sizes.append(len(records))
            if len(sizes) == 1:
                applying.set()
                await release.wait()
            return await apply_and_send(records)

        pipeline.apply_and_send = observed  # type: ignore[method-assign]
        await tally.send(first)
        await asyncio.wait_for(applying.wait(), 30)
        for event in later:
            await tally.send(event)
        stopping = asyncio.create_task(worker.stop())
        await asyncio.sleep(0.2)
        release.set()
        await asyncio.wait_for(stopping, 30)
    finally:
        if stopping is None:
            await worker.stop()
    assert sizes == [1]
    [reply] = await tally.totals(first["event_id"])
    assert orjson.loads(reply)["total"] == 1


async def test_a_caught_up_consumer_fetches_again_only_once_the_linger_has_passed(
    tally: Tally,
) -> None:
    """TABS_FETCH_LINGER_MS: after a batch smaller than the maximum, the next fetch waits until
    the linger has passed since that batch arrived, and takes everything that came meanwhile."""
    linger_s = 0.4
    settings = tally.settings.model_copy(update={"consumers": 1, "fetch_linger_ms": 400})
    first = tally_event("linger", 1)
    meanwhile = [tally_event("linger", 1) for _ in range(5)]
    arrivals: list[tuple[float, int]] = []
    loop = asyncio.get_running_loop()
    async with running_worker(SPEC, settings, tally.database_url) as worker:
        [pipeline] = worker._pipelines
        apply_and_send = pipeline.apply_and_send

        async def observed(records: Sequence[Record]) -> Awaitable[None]:
            arrivals.append((loop.time(), len(records)))
            if len(arrivals) == 1:
                for event in meanwhile:
                    await tally.send(event)
            return await apply_and_send(records)

        pipeline.apply_and_send = observed  # type: ignore[method-assign]
        await tally.send(first)
        await tally.totals_for_all([e["event_id"] for e in [first, *meanwhile]])
    assert [size for _, size in arrivals] == [1, len(meanwhile)]
    # Timed from the batch's arrival in the consumer, a moment before the pipeline saw it;
    # without the linger the gap is the apply and a fetch, about 20 ms.
    assert arrivals[1][0] - arrivals[0][0] >= linger_s * 0.9


async def test_a_worker_stopping_during_the_linger_takes_no_new_batch(tally: Tally) -> None:
    """The held fetch is released by a timer; a worker stopped before it fires stops at once
    and the timer, firing later, lets no batch in."""
    settings = tally.settings.model_copy(update={"consumers": 1, "fetch_linger_ms": 1_000})
    first = tally_event("linger-stop", 1)
    later = [tally_event("linger-stop", 1) for _ in range(3)]
    sizes: list[int] = []
    worker = Worker(SPEC, settings, tally.database_url)
    await worker.start()
    try:
        [pipeline] = worker._pipelines
        apply_and_send = pipeline.apply_and_send

        async def observed(records: Sequence[Record]) -> Awaitable[None]:
            sizes.append(len(records))
            return await apply_and_send(records)

        pipeline.apply_and_send = observed  # type: ignore[method-assign]
        await tally.send(first)
        await tally.totals(first["event_id"])
        for event in later:
            await tally.send(event)
    finally:
        await worker.stop()
    await asyncio.sleep(1.2)  # past the linger's timer
    assert sizes == [1]
    assert await tally.counters() == {"linger-stop": 1}


async def test_an_idle_consumer_waits_in_its_poll_instead_of_polling_and_sleeping(
    tally: Tally,
) -> None:
    """A poll waits for records up to POLL_WAIT_MS and returns when they arrive; an idle
    consumer does not poll and sleep every few milliseconds (FastStream's loop slept its poll
    timeout after every empty poll: 10 ms, 50 polls a second)."""
    settings = tally.settings.model_copy(update={"consumers": 1})
    first, second = tally_event("idle", 1), tally_event("idle", 2)
    async with running_worker(SPEC, settings, tally.database_url) as worker:
        await tally.send(first)
        await tally.totals(first["event_id"])
        [consumer] = [s.consumer for s in worker.broker.subscribers]
        polls = 0
        getmany = consumer.getmany

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal polls
            polls += 1
            return await getmany(*args, **kwargs)

        consumer.getmany = counted
        idle_s = 1.0
        await asyncio.sleep(idle_s)
        polls_while_idle = polls
        await tally.send(second)
        await tally.totals(second["event_id"])
    assert polls_while_idle <= idle_s * 1000 / POLL_WAIT_MS + 2
    assert await tally.counters() == {"idle": 3}
