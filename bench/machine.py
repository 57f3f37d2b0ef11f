"""How fast this machine's cores are when a run starts.

Figures from runs on different machines, or on one machine at different hours, cannot be
compared without it: the same code drained 12,066 decisions/s on one session's machine and
4,864/s on another's, whose cores ran Python at less than half the speed and whose two CPUs
together gave one and a half cores' worth (docs/performance.md, "Session 8").

A fixed pure-Python loop (what the workers mostly run) is timed in one process, then in as many
processes at once as the machine has CPUs. The first is one core's speed; the second, summed as
speeds, is how many cores' worth the machine gives when every CPU is busy: less than the count
when virtual CPUs share physical cores, or the host is busy. Each figure is the best of a few
rounds, the least disturbed, and one core's speed is the fastest loop seen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

LOOP_ITERATIONS = 2_000_000
ROUNDS = 3
_TIMEOUT_S = 120.0
# Prints the loop's seconds: a child process per timing, so that processes run truly at once.
_LOOP = """
import time
start = time.perf_counter()
total = 0
for i in range({n}):
    total += i
print(time.perf_counter() - start)
"""


@dataclass(frozen=True)
class Calibration:
    cpus: int
    one_core_ms: float
    # Each process's time for the same loop while every CPU ran one.
    all_cores_ms: tuple[float, ...]

    @property
    def cores(self) -> float:
        """Cores' worth with every CPU busy: each process's speed against one core alone."""
        return sum(self.one_core_ms / ms for ms in self.all_cores_ms)

    def as_json(self) -> dict[str, object]:
        return {
            "loop_iterations": LOOP_ITERATIONS,
            "one_core_loop_ms": round(self.one_core_ms, 1),
            "all_cores_loop_ms": [round(ms, 1) for ms in self.all_cores_ms],
            "cores_worth": round(self.cores, 2),
        }


def _timed_loops(processes: int, iterations: int) -> list[float]:
    """Milliseconds each of `processes` loops took, all started at once."""
    code = _LOOP.format(n=iterations)
    running = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    times = []
    try:
        for process in running:
            out, _ = process.communicate(timeout=_TIMEOUT_S)
            if process.returncode != 0:
                raise RuntimeError(f"the calibration loop failed with rc {process.returncode}")
            times.append(float(out) * 1000)
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait()
    return times


def calibrate(
    cpus: int | None = None, *, iterations: int = LOOP_ITERATIONS, rounds: int = ROUNDS
) -> Calibration:
    count = cpus or os.cpu_count() or 1
    alone = [_timed_loops(1, iterations)[0] for _ in range(rounds)]
    # The round whose processes together went fastest.
    together = max(
        (tuple(_timed_loops(count, iterations)) for _ in range(rounds)),
        key=lambda times: sum(1 / ms for ms in times),
    )
    # A core undisturbed is at least as fast as the fastest loop seen, alone or not (a round
    # alone can be slowed by the host too): so no CPU counts for more than one core.
    return Calibration(count, min(*alone, *together), together)
