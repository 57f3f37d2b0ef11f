"""Deferred commits: a batch's offsets are committed only after its messages are acknowledged,
in batch order; a batch whose messages were not published is consumed again, and nothing
committed passes it. (The consumer here records what it is asked; the worker tests run the
real one.)"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from services.common.offsets import DeferredCommits, first_offsets, next_offsets


@dataclass(frozen=True)
class At:
    topic: str
    partition: int
    offset: int


@dataclass
class Consumer:
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)
    refuse: bool = False

    def seek(self, partition: Any, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def commit(self, offsets: Any = None) -> None:
        if self.refuse:
            raise CommitFailedError("rebalanced")
        self.commits.append({p: o.offset for p, o in offsets.items()})


P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def test_offsets_of_a_batch_per_partition() -> None:
    records = [At("t", 0, 7), At("t", 1, 3), At("t", 0, 9), At("t", 0, 8)]
    assert next_offsets(records) == {P0: 10, P1: 4}
    assert first_offsets(records) == {P0: 7, P1: 3}


async def test_offsets_are_committed_after_acknowledgement_and_in_batch_order() -> None:
    consumer = Consumer()
    commits = DeferredCommits()
    first_acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    second_acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    commits.after(consumer, commits.begin(), first_acked, [At("t", 0, 0), At("t", 0, 1)])
    commits.end()
    commits.after(consumer, commits.begin(), second_acked, [At("t", 0, 2), At("t", 1, 5)])
    commits.end()
    second_acked.set_result(None)
    await asyncio.sleep(0.01)
    assert consumer.commits == [], "the second batch waits for the first"
    first_acked.set_result(None)
    await commits.settle()
    assert consumer.commits == [{P0: 2}, {P0: 3, P1: 6}]


async def test_a_batch_not_published_is_consumed_again_and_nothing_begun_before_commits() -> None:
    consumer = Consumer()
    commits = DeferredCommits()
    loop = asyncio.get_running_loop()
    failed: asyncio.Future[None] = loop.create_future()
    commits.after(consumer, commits.begin(), failed, [At("t", 0, 4), At("t", 0, 5)])
    commits.end()
    # Begun while the first was still unconfirmed: may hold records fetched before the rewind.
    begun_before = commits.begin()
    failed.set_exception(ConnectionError("broker gone"))
    await commits.settle()
    acked: asyncio.Future[None] = loop.create_future()
    acked.set_result(None)
    commits.after(consumer, begun_before, acked, [At("t", 0, 6)])
    commits.end()
    await commits.settle()
    assert consumer.seeks == [(P0, 4)]
    assert consumer.commits == []
    # A batch begun after the rewind commits again.
    commits.after(consumer, commits.begin(), acked, [At("t", 0, 4), At("t", 0, 5)])
    commits.end()
    await commits.settle()
    assert consumer.commits == [{P0: 6}]


async def test_batches_failing_in_a_row_send_each_partition_back_to_the_earliest() -> None:
    """The broker gone, the batch after a failed one fails too: its rewind must not move a
    shared partition past the first batch's records."""
    consumer = Consumer()
    commits = DeferredCommits()
    loop = asyncio.get_running_loop()
    first: asyncio.Future[None] = loop.create_future()
    second: asyncio.Future[None] = loop.create_future()
    commits.after(consumer, commits.begin(), first, [At("t", 0, 4), At("t", 0, 5)])
    commits.end()
    commits.after(consumer, commits.begin(), second, [At("t", 0, 6), At("t", 1, 3)])
    commits.end()
    first.set_exception(ConnectionError("broker gone"))
    second.set_exception(ConnectionError("broker gone"))
    await commits.settle()
    assert consumer.seeks == [(P0, 4), (P0, 4), (P1, 3)]
    assert consumer.commits == []
    # Consumed again and committed past the rewind: a later failure rewinds from there.
    acked: asyncio.Future[None] = loop.create_future()
    acked.set_result(None)
    commits.after(consumer, commits.begin(), acked, [At("t", 0, 4), At("t", 0, 9)])
    commits.end()
    failed: asyncio.Future[None] = loop.create_future()
    failed.set_exception(ConnectionError("broker gone"))
    commits.after(consumer, commits.begin(), failed, [At("t", 0, 10), At("t", 1, 5)])
    commits.end()
    await commits.settle()
    assert consumer.commits == [{P0: 10}]
    assert consumer.seeks[3:] == [(P0, 10), (P1, 3)]


async def test_a_commit_lost_to_a_rebalance_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="services.common.offsets")
    consumer = Consumer(refuse=True)
    commits = DeferredCommits()
    acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    acked.set_result(None)
    commits.after(consumer, commits.begin(), acked, [At("t", 1, 0)])
    commits.end()
    await commits.settle()
    assert "offset commit failed" in caplog.text


async def test_closing_waits_for_the_batch_in_hand_and_its_commit() -> None:
    consumer = Consumer()
    commits = DeferredCommits()
    acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    epoch = commits.begin()

    async def finish_batch() -> None:
        await asyncio.sleep(0.05)
        commits.after(consumer, epoch, acked, [At("t", 0, 41)])
        commits.end()
        await asyncio.sleep(0.05)
        acked.set_result(None)

    finishing = asyncio.create_task(finish_batch())
    await commits.close()
    assert consumer.commits == [{P0: 42}]
    await finishing
