"""The pipeline-alone measurement keeps working (its figures are not checked, only that it
measured what it says: the batches it timed, and work done by both processes)."""

from __future__ import annotations

import gc

from bench.pipeline_cost import measure


async def test_times_batches_of_each_size_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    small, large = await measure([5, 40], batches=3, accounts=20, gc_young=700)
    assert (small.size, small.batches) == (5, 3)
    assert (large.size, large.batches) == (40, 3)
    for cost in (small, large):
        assert cost.worker_cpu_ms > 0.0
        assert cost.database_cpu_ms >= 0.0
        assert cost.wall_ms > 0.0
    # A batch of 40 sales costs the worker more than one of 5.
    assert large.worker_cpu_ms > small.worker_cpu_ms
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
