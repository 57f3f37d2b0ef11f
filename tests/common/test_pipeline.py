"""The pipeline's guarantees, through the real broker and real databases (PostgreSQL and
SQLite): a repeated message has one effect, bad input and our own bugs become dead letters
without stalling anything, and a database outage (PostgreSQL) delays messages without losing or
dead-lettering them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from services.common.worker import Worker
from tests.common.harness import Tally, batches_handled, messages_counted, tally_event
from tests.common.tally_service import BOOM, SPEC, TALLY_EVENTS
from tests.support.naming import unique
from tests.support.workers import running_worker


async def test_event_delivered_twice_in_one_batch_and_again_later_has_one_effect_and_the_same_reply(
    tally: Tally,
) -> None:
    event = tally_event("a", 3)
    between = tally_event("a", 4)
    await tally.send_together([event, between, event], key="a")
    async with running_worker(SPEC, tally.settings, tally.database_url) as worker:
        await tally.totals(event["event_id"], count=2)
        [other] = await tally.totals(between["event_id"])
        await tally.send(event)
        replies = await tally.totals(event["event_id"], count=3)
        # The replies go straight to aiokafka's producer, not through FastStream's publishers.
        assert worker.publishers.aiokafka_producer() is not None
    assert batches_handled(worker) == 2, "the first three deliveries were meant to be one batch"
    assert replies == [replies[0]] * 3
    assert orjson.loads(replies[0])["total"] == 3
    assert orjson.loads(other)["total"] == 7
    assert await tally.counters() == {"a": 7}
    assert messages_counted(worker, "applied") == 2
    assert messages_counted(worker, "duplicate") == 2


async def test_unreadable_records_are_dead_lettered_whole_and_the_next_record_is_applied(
    tally: Tally,
) -> None:
    not_json = b'{"event_id": "e-cut", "counter": '
    not_utf8 = b"\xff\xfe not text"
    invalid = orjson.dumps({"event_id": unique("e-"), "counter": "a", "add": "three"})
    good = tally_event("a", 5)
    started = datetime.now(UTC)
    async with running_worker(SPEC, tally.settings, tally.database_url):
        sent = {raw: await tally.send(raw, key="a") for raw in (not_json, not_utf8, invalid)}
        tombstone = await tally.send(None, key="a")
        await tally.send(good)
        [reply] = await tally.totals(good["event_id"])
        letters = {letter.offset: letter for letter in await tally.dead_letters(4)}
    assert orjson.loads(reply)["total"] == 5
    assert await tally.counters() == {"a": 5}
    places = {(m.partition, m.offset) for m in [*sent.values(), tombstone]}
    assert {(letter.partition, letter.offset) for letter in letters.values()} == places
    for letter in letters.values():
        assert letter.topic == TALLY_EVENTS
        assert letter.key == "a"
        assert letter.consumer_group == SPEC.group_id(tally.settings)
        assert started <= letter.failed_at <= datetime.now(UTC)
    by_original = {letter.original_bytes(): letter for letter in letters.values()}
    assert set(by_original) == {*sent, b""}
    assert by_original[not_json].original_text == not_json.decode()
    assert "Invalid JSON" in by_original[not_json].error
    assert by_original[not_utf8].original_text is None
    assert by_original[invalid].original_text == invalid.decode()
    assert "add" in by_original[invalid].error
    assert letters[tombstone.offset].original_text == ""


async def test_a_handler_bug_dead_letters_its_message_and_the_rest_of_its_batch_is_applied(
    tally: Tally,
) -> None:
    before = tally_event("a", 1)
    boom = tally_event(BOOM, 1)
    after = tally_event("a", 2)
    await tally.send_together([before, boom, after], key="k", partition=0)
    async with running_worker(SPEC, tally.settings, tally.database_url) as worker:
        await tally.totals(after["event_id"])
        [letter] = await tally.dead_letters()
        # The same partition goes on after the failure.
        later = tally_event("a", 4)
        await tally.send(later, key="k", partition=0)
        [reply] = await tally.totals(later["event_id"])
    assert batches_handled(worker) == 2, "the first three records were meant to be one batch"
    assert letter.error.startswith("internal error: ValueError:")
    assert letter.original_bytes() == orjson.dumps(boom)
    assert (letter.partition, letter.offset) == (0, 1)
    assert tally.totals_of(boom["event_id"]) == []
    assert orjson.loads(reply)["total"] == 7
    assert await tally.counters() == {"a": 7}
    assert messages_counted(worker, "failed") == 1


@asynccontextmanager
async def refusing_connections(server_url: str, database: str) -> AsyncIterator[None]:
    """The database refuses new connections and drops the open ones until the block ends."""
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            database,
        )
        try:
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


def retries(worker: Worker, cause: str) -> int:
    value = worker.metrics.registry.get_sample_value("tabs_batch_retries_total", {"cause": cause})
    return int(value or 0)


async def test_messages_sent_during_a_database_outage_are_applied_after_it_none_dead_lettered(
    tally_on_postgres: Tally, postgres_server: str
) -> None:
    tally = tally_on_postgres
    database = make_url(tally.database_url).database
    assert database is not None
    async with running_worker(SPEC, tally.settings, tally.database_url) as worker:
        warm = tally_event("a", 1)
        await tally.send(warm)
        await tally.totals(warm["event_id"])
        during = [tally_event("a", 2), tally_event("b", 3)]
        async with refusing_connections(postgres_server, database):
            for event in during:
                await tally.send(event)
            # Longer than the bounded conflict retries take (five, at most 0.5 s apart): an
            # outage counted as conflicts would have sent the batch to the dead letters by now.
            await tally.output.settle(3.0)
            assert [tally.totals_of(e["event_id"]) for e in during] == [[], []]
        replies = await tally.totals_for_all([e["event_id"] for e in during])
        await tally.output.settle(0.5)
    assert [orjson.loads(replies[e["event_id"]][0])["total"] for e in during] == [3, 3]
    assert await tally.counters() == {"a": 3, "b": 3}
    assert tally.output.messages(tally.dead_letters_topic) == []
    assert retries(worker, "outage") > 0
    assert retries(worker, "conflict") == 0
