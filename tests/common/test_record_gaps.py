"""The record gap guard's decisions, without a broker: which records of a batch go on, which
partitions are rewound and where, when a gap is accepted, and what a rebalance resets."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError

from services.common.record_gaps import Gap, RecordGapGuard, plan_batch

A = TopicPartition("t", 0)
B = TopicPartition("t", 1)


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int


def recs(tp: TopicPartition, *offsets: int) -> list[Rec]:
    return [Rec(tp.topic, tp.partition, offset) for offset in offsets]


def offsets_of(records: list[Rec], tp: TopicPartition) -> list[int]:
    return [r.offset for r in records if (r.topic, r.partition) == tuple(tp)]


class Seeks:
    def __init__(self, unassigned: frozenset[TopicPartition] = frozenset()) -> None:
        self.seeks: list[tuple[TopicPartition, int]] = []
        self._unassigned = unassigned

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if partition in self._unassigned:
            raise IllegalStateError(f"{partition} is not assigned")
        self.seeks.append((partition, offset))


def test_a_partition_without_an_expected_offset_is_taken_as_it_comes() -> None:
    plan = plan_batch(recs(A, 7, 8, 9), expected={}, rewind_counts={})
    assert offsets_of(plan.records, A) == [7, 8, 9]
    assert plan.gaps == [] and plan.rewinds == {}
    assert plan.next_offsets == {A: 10}


def test_records_that_continue_at_the_expected_offset_all_go_on() -> None:
    batch = recs(A, 5, 6) + recs(B, 0, 1) + recs(A, 7)
    plan = plan_batch(batch, expected={A: 5, B: 0}, rewind_counts={})
    assert plan.records == batch
    assert plan.rewinds == {}
    assert plan.next_offsets == {A: 8, B: 2}


def test_a_batch_that_starts_past_the_expected_offset_rewinds_only_that_partition() -> None:
    batch = recs(A, 8, 9) + recs(B, 3, 4)
    plan = plan_batch(batch, expected={A: 5, B: 3}, rewind_counts={})
    assert offsets_of(plan.records, A) == []
    assert offsets_of(plan.records, B) == [3, 4]
    assert plan.rewinds == {A: 5}
    assert plan.gaps == [Gap(A, expected=5, found=8, accepted=False)]
    assert plan.next_offsets == {B: 5}
    assert plan.rewind_counts == {A: (5, 1)}


def test_records_before_a_gap_go_on_and_the_partition_resumes_at_the_gap() -> None:
    plan = plan_batch(recs(A, 5, 6, 9, 10), expected={A: 5}, rewind_counts={})
    assert offsets_of(plan.records, A) == [5, 6]
    assert plan.rewinds == {A: 7}
    assert plan.next_offsets == {A: 7}


def test_interleaved_partitions_keep_their_order_and_a_gap_drops_the_rest_of_its_partition() -> (
    None
):
    batch = [Rec("t", 0, 5), Rec("t", 1, 0), Rec("t", 0, 7), Rec("t", 1, 1), Rec("t", 0, 6)]
    plan = plan_batch(batch, expected={A: 5, B: 0}, rewind_counts={})
    assert plan.records == [Rec("t", 0, 5), Rec("t", 1, 0), Rec("t", 1, 1)]
    assert plan.rewinds == {A: 6}


def test_a_gap_seen_again_after_the_allowed_rewinds_is_accepted() -> None:
    guard = RecordGapGuard(max_rewinds=3)
    guard.expect(A, 5)
    consumer = Seeks()
    for attempt in range(1, 4):
        admitted = guard.admit(recs(A, 8, 9))
        assert admitted.records == []
        assert admitted.plan.rewinds == {A: 5}, attempt
        guard.done(consumer, admitted)
    assert consumer.seeks == [(A, 5)] * 3
    accepted = guard.admit(recs(A, 8, 9))
    assert offsets_of(accepted.records, A) == [8, 9]
    assert accepted.plan.gaps == [Gap(A, expected=5, found=8, accepted=True)]
    guard.done(consumer, accepted)
    assert consumer.seeks == [(A, 5)] * 3
    assert guard.expected(A) == 10


def test_the_rewinds_are_counted_per_expected_offset_wherever_the_refetch_starts() -> None:
    # Tansu may leave out fewer records on a refetch; it is still the same missing offset.
    guard = RecordGapGuard(max_rewinds=2)
    guard.expect(A, 5)
    for found in (9, 7):
        admitted = guard.admit(recs(A, found))
        assert admitted.plan.gaps == [Gap(A, 5, found, accepted=False)]
        guard.done(Seeks(), admitted)
    assert guard.admit(recs(A, 6)).plan.gaps == [Gap(A, 5, 6, accepted=True)]


def test_a_refetch_that_brings_the_missing_records_resets_the_count() -> None:
    guard = RecordGapGuard(max_rewinds=1)
    guard.expect(A, 5)
    guard.done(Seeks(), guard.admit(recs(A, 7)))
    refetched = guard.admit(recs(A, 5, 6, 7))
    assert offsets_of(refetched.records, A) == [5, 6, 7]
    guard.done(Seeks(), refetched)
    # A new gap further on gets its own rewind.
    later = guard.admit(recs(A, 10))
    assert later.plan.gaps == [Gap(A, 8, 10, accepted=False)]


def test_a_partition_missing_from_a_batch_keeps_its_rewind_count() -> None:
    guard = RecordGapGuard(max_rewinds=1)
    guard.expect(A, 5)
    guard.done(Seeks(), guard.admit(recs(A, 7)))
    guard.done(Seeks(), guard.admit(recs(B, 0)))
    assert guard.admit(recs(A, 7)).plan.gaps == [Gap(A, 5, 7, accepted=True)]


def test_records_below_the_expected_offset_are_redeliveries_and_go_on() -> None:
    plan = plan_batch(recs(A, 3, 4, 5), expected={A: 6}, rewind_counts={})
    assert offsets_of(plan.records, A) == [3, 4, 5]
    assert plan.next_offsets == {A: 6}


def test_without_rewinds_allowed_every_gap_is_accepted_at_once() -> None:
    plan = plan_batch(recs(A, 9), expected={A: 5}, rewind_counts={}, max_rewinds=0)
    assert offsets_of(plan.records, A) == [9]
    assert plan.gaps == [Gap(A, 5, 9, accepted=True)]


def test_done_seeks_the_gapped_partitions_and_reports_each_gap() -> None:
    reported: list[Gap] = []
    guard = RecordGapGuard(on_gap=reported.append)
    guard.expect(A, 5)
    guard.expect(B, 0)
    consumer = Seeks()
    admitted = guard.admit(recs(A, 5, 8) + recs(B, 2))
    # Nothing changes before the records were handled.
    assert guard.expected(A) == 5 and consumer.seeks == []
    guard.done(consumer, admitted)
    assert sorted(consumer.seeks) == [(A, 6), (B, 0)]
    assert guard.expected(A) == 6 and guard.expected(B) == 0
    assert reported == [Gap(A, 6, 8, accepted=False), Gap(B, 0, 2, accepted=False)]


def test_an_accepted_gap_is_logged_once_at_info(caplog: pytest.LogCaptureFixture) -> None:
    guard = RecordGapGuard(max_rewinds=1)
    guard.expect(A, 5)
    with caplog.at_level(logging.DEBUG, logger="services.common.record_gaps"):
        guard.done(Seeks(), guard.admit(recs(A, 8)))
        guard.done(Seeks(), guard.admit(recs(A, 8, 9)))
        guard.done(Seeks(), guard.admit(recs(A, 10)))
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1
    assert "t partition 0: offsets 5 to 7" in infos[0]


def test_a_failed_batch_rewinds_only_partitions_whose_first_record_was_past_a_gap() -> None:
    # A nack already rewinds each partition to its first record in the batch; that is right
    # for A (5, before its gap) but past the gap for B.
    guard = RecordGapGuard()
    guard.expect(A, 5)
    guard.expect(B, 0)
    consumer = Seeks()
    admitted = guard.admit(recs(A, 5, 8) + recs(B, 2))
    guard.failed(consumer, admitted)
    assert consumer.seeks == [(B, 0)]
    # Nothing was learnt from the failed batch.
    assert guard.expected(A) == 5
    assert guard.admit(recs(A, 5, 6)).plan.gaps == []


def test_an_admission_from_before_a_rebalance_changes_nothing() -> None:
    guard = RecordGapGuard()
    guard.expect(A, 5)
    consumer = Seeks()
    admitted = guard.admit(recs(A, 8))
    guard.forget([A])
    guard.expect(A, 5)
    guard.done(consumer, admitted)
    guard.failed(consumer, admitted)
    assert consumer.seeks == []
    assert guard.expected(A) == 5


def test_a_partition_no_longer_assigned_is_not_rewound() -> None:
    guard = RecordGapGuard()
    guard.expect(A, 5)
    guard.expect(B, 0)
    consumer = Seeks(unassigned=frozenset({A}))
    guard.done(consumer, guard.admit(recs(A, 8) + recs(B, 1)))
    assert consumer.seeks == [(B, 0)]


class Positions:
    def __init__(self, positions: dict[TopicPartition, int], hang: bool = False) -> None:
        self._positions = positions
        self._hang = hang

    async def position(self, partition: TopicPartition) -> int:
        if self._hang:
            await asyncio.Event().wait()
        return self._positions[partition]


async def test_an_assignment_starts_each_partition_at_the_consumer_position() -> None:
    guard = RecordGapGuard()
    guard.expect(B, 40)
    listener = guard.listener(lambda: Positions({A: 12}))
    await listener.on_partitions_revoked({B})
    assert guard.expected(B) is None
    await listener.on_partitions_assigned({A})
    assert guard.expected(A) == 12
    assert guard.admit(recs(A, 14)).plan.rewinds == {A: 12}


async def test_an_assignment_before_the_consumer_exists_leaves_partitions_unguarded() -> None:
    guard = RecordGapGuard()
    guard.expect(A, 3)
    await guard.listener(lambda: None).on_partitions_assigned({A})
    assert guard.expected(A) is None
    assert guard.admit(recs(A, 9)).plan.gaps == []


async def test_a_position_that_is_not_read_in_time_leaves_the_partition_unguarded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("services.common.record_gaps.POSITION_TIMEOUT_S", 0.01)
    guard = RecordGapGuard()
    await guard.listener(lambda: Positions({}, hang=True)).on_partitions_assigned({A})
    assert guard.expected(A) is None
