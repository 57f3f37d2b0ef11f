"""Committing a batch's offsets once its messages are acknowledged, while the next batch runs.

A batch's offsets may be committed only after its replies are acknowledged by the broker (the
replies of a batch that is consumed again are republished from the inbox; a committed offset
would skip that). Waiting for the acknowledgements and then for the commit, before fetching the
next batch, left the worker idle for both round trips. Instead the worker applies the next
batch while the broker acknowledges this one, and commits in the background:

- Commits happen in batch order: each waits for the one before it.
- Offsets are explicit, the one after the last record handled of each partition, never the
  consumer's positions, which by then belong to a later batch.
- When a batch's messages cannot be published, its partitions are sought back to its first
  records, so that it is consumed again and republishes its stored replies; and no batch that
  started before that failure commits, since it may hold records fetched before the seek and
  would commit past the ones that must come again. When several batches in a row fail (the
  broker is gone), a partition goes back to the earliest of their first records, not the
  last batch's.
- A worker that stops waits for the last commit (`settle`), so that a successor in the group
  does not consume the same records again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from services.common.record_gaps import Located

log = logging.getLogger(__name__)


class Committer(Protocol):
    """What of an aiokafka consumer the commits use."""

    def seek(self, partition: Any, offset: int) -> None: ...

    async def commit(self, offsets: Any = None) -> None: ...


def next_offsets(records: Iterable[Located]) -> dict[TopicPartition, int]:
    """Per partition, the offset after the last record: what a commit of these records says."""
    found: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        found[partition] = max(found.get(partition, 0), record.offset + 1)
    return found


def first_offsets(records: Iterable[Located]) -> dict[TopicPartition, int]:
    """Per partition, the offset of the first record: where to consume the records again."""
    found: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        found[partition] = min(found.get(partition, record.offset), record.offset)
    return found


class DeferredCommits:
    def __init__(self) -> None:
        self._last: asyncio.Task[None] | None = None
        # Bumped by every failed publication: a batch begun under an older value never commits.
        self._epoch = 0
        # Where failed batches sent each partition back, until a commit passes that point.
        self._rewound: dict[TopicPartition, int] = {}
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # The consumer, once subscribed (for pausing it when the worker stops).
        self.consumer: Callable[[], Any] | None = None
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def begin(self) -> int:
        """Called as a batch arrives, before anything of it is applied."""
        self._active += 1
        self._idle.clear()
        return self._epoch

    def end(self) -> None:
        """Called when the consumer is done with a batch (applied, or failed)."""
        self._active -= 1
        if not self._active:
            self._idle.set()

    async def close(self, timeout_s: float = 30.0) -> None:
        """Before the consumer stops: takes no new batch, lets the one in hand finish, and
        waits for the last commit, so that no applied batch is left uncommitted."""
        self.closing = True
        consumer = self.consumer() if self.consumer is not None else None
        if consumer is not None:
            try:
                consumer.pause(*consumer.assignment())
            except Exception as error:  # not started, or already stopping
                log.debug("could not pause the consumer: %s", error)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("a batch was still being applied after %.0f s; stopping anyway", timeout_s)
        await self.settle()

    def after(
        self,
        consumer: Committer,
        epoch: int,
        published: Awaitable[None],
        records: Iterable[Located],
    ) -> None:
        """Commits the records' offsets once `published` is done and every earlier batch is."""
        handled = list(records)
        self._last = asyncio.create_task(
            self._finish(
                self._last,
                consumer,
                epoch,
                published,
                next_offsets(handled),
                first_offsets(handled),
            ),
            name="tabs-commit-offsets",
        )

    async def settle(self) -> None:
        """Waits for the last batch's acknowledgements and commit."""
        if self._last is not None:
            await asyncio.wait([self._last])

    async def _finish(
        self,
        previous: asyncio.Task[None] | None,
        consumer: Committer,
        epoch: int,
        published: Awaitable[None],
        offsets: dict[TopicPartition, int],
        firsts: dict[TopicPartition, int],
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await published
        except Exception as error:
            self._epoch += 1
            log.warning(
                "a batch's messages were not published (%s: %s); consuming it again",
                type(error).__name__,
                error,
            )
            for partition, first in firsts.items():
                offset = min(first, self._rewound.get(partition, first))
                self._rewound[partition] = offset
                try:
                    consumer.seek(partition, offset)
                except (KafkaError, AssertionError, ValueError) as lost:
                    # No longer assigned: its new owner consumes it from the committed offset.
                    log.info("could not rewind %s: %s", partition, lost)
            return
        if epoch != self._epoch or not offsets:
            return
        try:
            await consumer.commit({p: OffsetAndMetadata(o, "") for p, o in offsets.items()})
            for partition, offset in offsets.items():
                if self._rewound.get(partition, offset) < offset:
                    del self._rewound[partition]
        except KafkaError as error:
            # A rebalance took the partitions away: their new owner consumes the batch again
            # and the inbox makes that harmless.
            log.info("offset commit failed (%s); the records will be consumed again", error)
