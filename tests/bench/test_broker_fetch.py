"""The embedded broker's fetch-cost measurement keeps working (its figures are not checked)."""

from __future__ import annotations

from bench.broker_fetch import measure


async def test_fills_a_partition_and_reads_it_back() -> None:
    (size,) = await measure([300], [100])
    assert size.batches == 300
    assert size.last_record_ms >= 0.0
    read, seconds = size.reads[100]
    assert read == 300
    assert seconds > 0.0
    assert set(size.waiting_cores) == {100}
    assert 0.0 <= size.waiting_cores[100] < 2.0  # at most the machine's two cores
