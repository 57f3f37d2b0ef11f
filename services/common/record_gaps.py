"""A consumer guard against records a broker left out of a fetch: offset gaps are refetched.

Why: Tansu, the embedded broker of `tabs up` and the tests, raises a partition's high watermark
before it stores the batch that got the offsets. When several producers write to one partition
at once, a fetch at offset N can find a later producer's batch stored and an earlier one not
yet, and answers with batches that start after N. The consumer's position then moves past
records that are in the log, and committing it would lose them for good.

What the guard does, per assigned partition:
- It knows the next expected offset: the consumer's position when the partition is assigned
  (the committed offset, or where `auto_offset_reset` put it), then the offset after the last
  record handed on. If the position could not be read, the first record seen sets it.
- When a batch's records of a partition jump past the expected offset, only the records before
  the jump are handed on, and the partition is sought back to the expected offset, so the next
  fetch asks for the missing records again. The seek happens before the offsets are committed,
  and a commit takes the consumer's positions, so no commit passes a missing record.
- Bounded: after MAX_REWINDS refetches from the same expected offset the gap is accepted, logged
  once at INFO and reported. Apache Kafka never skips like Tansu, but a consumer does see offset
  gaps there for transaction markers and compacted topics (our topics have neither); each such
  gap costs MAX_REWINDS extra fetches of that partition and is then accepted.
- Records of the other partitions of the batch are handed on as usual; a record below the
  expected offset (a redelivery after a rewind elsewhere) is handed on and resets the count.
- A rebalance resets what the guard knows (RebalanceListener).

The decisions are a pure function of the batch and the guard's state (plan_batch); the guard
applies them to a consumer only once the handed-on records were handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError

log = logging.getLogger(__name__)

# Refetches from one expected offset before its gap is taken as real. Tansu's missing batch is
# stored a moment later, so the first refetch nearly always finds it.
MAX_REWINDS = 3
# How long the rebalance listener waits for the position of a newly assigned partition.
POSITION_TIMEOUT_S = 5.0


class Located(Protocol):
    """What the guard reads of a record (aiokafka's ConsumerRecord has it)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


R = TypeVar("R", bound=Located)


class Seeker(Protocol):
    def seek(self, partition: Any, offset: int) -> None: ...


class PositionSource(Protocol):
    async def position(self, partition: Any) -> int: ...


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets expected..found-1 of one partition were not in the batch."""

    partition: TopicPartition
    expected: int
    found: int
    # False: the partition is rewound to `expected`; True: given up after MAX_REWINDS refetches.
    accepted: bool


@dataclass(frozen=True, slots=True)
class Plan(Generic[R]):
    """What to do with one batch: hand on `records`, rewind the partitions in `rewinds`."""

    records: list[R]
    gaps: list[Gap]
    # Partition -> the offset to fetch again from, once `records` are handled.
    rewinds: dict[TopicPartition, int]
    # Partition -> the expected offset once `records` are handled.
    next_offsets: dict[TopicPartition, int]
    # Partition -> (offset, refetches from it so far), for the partitions still being rewound.
    rewind_counts: dict[TopicPartition, tuple[int, int]]
    # The partitions that had records in the batch (their old rewind counts are replaced).
    seen: frozenset[TopicPartition]


def plan_batch(
    records: Iterable[R],
    expected: Mapping[TopicPartition, int],
    rewind_counts: Mapping[TopicPartition, tuple[int, int]],
    max_rewinds: int = MAX_REWINDS,
) -> Plan[R]:
    """Splits a batch at the first gap of each partition.

    `expected` holds the next expected offset of the partitions the guard knows; a partition
    missing from it is taken as it comes. `rewind_counts` holds, per partition, the offset it
    was last rewound to and how many times. The records of one partition must come in offset
    order (as a consumer returns them); partitions may interleave.
    """
    handed: list[R] = []
    gaps: list[Gap] = []
    rewinds: dict[TopicPartition, int] = {}
    next_offsets: dict[TopicPartition, int] = {}
    counts: dict[TopicPartition, tuple[int, int]] = {}
    seen: set[TopicPartition] = set()
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        seen.add(tp)
        if tp in rewinds:
            continue  # past a gap: fetched again after the rewind
        want = next_offsets.get(tp, expected.get(tp))
        if want is not None and record.offset > want:
            offset, tries = counts.get(tp) or rewind_counts.get(tp) or (want, 0)
            tries = tries if offset == want else 0
            if tries < max_rewinds:
                gaps.append(Gap(tp, want, record.offset, accepted=False))
                rewinds[tp] = want
                counts[tp] = (want, tries + 1)
                continue
            gaps.append(Gap(tp, want, record.offset, accepted=True))
        counts.pop(tp, None)
        handed.append(record)
        next_offsets[tp] = record.offset + 1
    return Plan(handed, gaps, rewinds, next_offsets, counts, frozenset(seen))


@dataclass(frozen=True, slots=True)
class Admission(Generic[R]):
    """A planned batch, tied to the assignment it was planned under."""

    plan: Plan[R]
    epoch: int
    # Where each rewound partition that had no record handed on must restart if handling fails
    # (a nack rewinds a partition to its first record in the batch, which is past the gap).
    failure_rewinds: dict[TopicPartition, int]

    @property
    def records(self) -> list[R]:
        return self.plan.records


class RecordGapGuard:
    """Tracks the next expected offset of each assigned partition; see the module docstring.

    Use: `admission = guard.admit(records)`, hand on `admission.records`, then
    `guard.done(consumer, admission)` before committing, or `guard.failed(consumer, admission)`
    after rewinding the batch for a retry.
    """

    def __init__(
        self,
        *,
        max_rewinds: int = MAX_REWINDS,
        on_gap: Callable[[Gap], None] | None = None,
    ) -> None:
        if max_rewinds < 0:
            raise ValueError(f"max_rewinds must not be negative, not {max_rewinds}")
        self._max_rewinds = max_rewinds
        self._on_gap = on_gap
        self._expected: dict[TopicPartition, int] = {}
        self._rewind_counts: dict[TopicPartition, tuple[int, int]] = {}
        # Bumped by every change of assignment: an admission of an older epoch changes nothing.
        self._epoch = 0

    def expected(self, partition: TopicPartition) -> int | None:
        return self._expected.get(partition)

    def expect(self, partition: TopicPartition, offset: int) -> None:
        """The consumer's position of a partition, where its records must start."""
        self._expected[partition] = offset
        self._rewind_counts.pop(partition, None)

    def forget(self, partitions: Collection[TopicPartition] | None = None) -> None:
        """After a rebalance: what the guard knew of these partitions (default all) is void."""
        self._epoch += 1
        if partitions is None:
            self._expected.clear()
            self._rewind_counts.clear()
            return
        for tp in partitions:
            self._expected.pop(tp, None)
            self._rewind_counts.pop(tp, None)

    def admit(self, records: Sequence[R]) -> Admission[R]:
        plan = plan_batch(records, self._expected, self._rewind_counts, self._max_rewinds)
        handed = {TopicPartition(r.topic, r.partition) for r in plan.records}
        failure_rewinds = {tp: o for tp, o in plan.rewinds.items() if tp not in handed}
        return Admission(plan, self._epoch, failure_rewinds)

    def done(self, consumer: Seeker, admission: Admission[Any]) -> None:
        """The admitted records were handled: rewinds the gapped partitions and moves on.

        Call it before committing: the commit then stops at the first missing record.
        """
        if admission.epoch != self._epoch:
            # A rebalance since: positions restarted from committed offsets, which never pass
            # a missing record, and the listener set the new expectations.
            return
        plan = admission.plan
        for tp in plan.seen:
            self._rewind_counts.pop(tp, None)
        self._rewind_counts.update(plan.rewind_counts)
        self._expected.update(plan.next_offsets)
        self._seek(consumer, plan.rewinds)
        for gap in plan.gaps:
            if gap.accepted:
                log.info(
                    "records missing from %s partition %d: offsets %d to %d are still absent "
                    "after %d refetches; accepted as a gap in the log (a transaction marker "
                    "or compaction on Apache Kafka)",
                    gap.partition.topic,
                    gap.partition.partition,
                    gap.expected,
                    gap.found - 1,
                    self._max_rewinds,
                )
            else:
                log.debug(
                    "records missing from %s partition %d: fetched %d where %d was expected; "
                    "rewinding to fetch them again",
                    gap.partition.topic,
                    gap.partition.partition,
                    gap.found,
                    gap.expected,
                )
            if self._on_gap is not None:
                self._on_gap(gap)

    def failed(self, consumer: Seeker, admission: Admission[Any]) -> None:
        """Handling failed and the batch was rewound to its first records (a nack): rewinds
        the partitions whose first record in the batch was already past a gap."""
        if admission.epoch == self._epoch:
            self._seek(consumer, admission.failure_rewinds)

    @staticmethod
    def _seek(consumer: Seeker, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            try:
                consumer.seek(tp, offset)
            except IllegalStateError:
                # No longer assigned: its new owner starts from the committed offset, which
                # is not past the missing records.
                log.debug("not rewinding %s: no longer assigned", tp)

    def listener(self, consumer: Callable[[], PositionSource | None]) -> RebalanceListener:
        return RebalanceListener(self, consumer)


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Resets the guard on every rebalance and starts each assigned partition at its position.

    `consumer` returns the consumer once it exists (a subscriber builds it at start, after the
    listener is made). aiokafka starts fetching committed offsets before it calls
    on_partitions_assigned, so that the listener may wait for positions.
    """

    def __init__(self, guard: RecordGapGuard, consumer: Callable[[], PositionSource | None]):
        self._guard = guard
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._guard.forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._guard.forget()
        consumer = self._consumer()
        if consumer is None:
            return
        try:
            async with asyncio.timeout(POSITION_TIMEOUT_S):
                for tp in sorted(assigned):
                    # Set right after each read: a later read could be older than a batch
                    # handled meanwhile.
                    self._guard.expect(tp, await consumer.position(tp))
        except Exception as error:
            # Those partitions start at their first record, as if no position was known.
            log.info("positions of assigned partitions not read (%r); starting unguarded", error)
