"""The machine's calibration: one core's loop time, and cores' worth with every CPU busy."""

from __future__ import annotations

import os

from bench.machine import Calibration, calibrate


def test_cores_worth_sums_each_process_speed_against_one_core_alone() -> None:
    # Two CPUs, one as fast as a core alone, the other at half its speed: 1.5 cores' worth.
    calibration = Calibration(cpus=2, one_core_ms=100.0, all_cores_ms=(100.0, 200.0))
    assert calibration.cores == 1.5
    assert calibration.as_json()["cores_worth"] == 1.5


def test_calibrate_times_one_loop_and_then_one_per_cpu_at_once() -> None:
    calibration = calibrate(iterations=200_000, rounds=1)
    cpus = os.cpu_count() or 1
    assert calibration.cpus == cpus
    assert len(calibration.all_cores_ms) == cpus
    assert calibration.one_core_ms > 0
    assert all(ms > 0 for ms in calibration.all_cores_ms)
    # One core's time is the fastest loop seen, so no CPU counts for more than a core.
    assert calibration.one_core_ms <= min(calibration.all_cores_ms)
    assert 0 < calibration.cores <= cpus
