"""The bench's configuration: the partitions follow the consumers unless given."""

from __future__ import annotations

from bench.config import BenchConfig


def test_one_partition_per_consumer_unless_given() -> None:
    assert BenchConfig().partitions == 2  # two workers of one consumer
    assert BenchConfig(workers=3, consumers=2).partitions == 6
    assert BenchConfig(workers=3, consumers=2).quick().partitions == 6
    assert BenchConfig(partitions=6).partitions == 6
    assert BenchConfig(workers=1, partitions=12).partitions == 12
