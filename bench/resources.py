"""CPU and memory of the processes under test, sampled in a thread with psutil.

CPU is kept as a timeline of cumulative seconds per process, so that any window of the run
(say, from the first decision of a phase to its last) can be cut out afterwards by linear
interpolation. A process group (PostgreSQL's postmaster and its backends) counts the CPU of
the live children plus what the leader has reaped, so backends that come and go are not lost.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field

import psutil

SAMPLE_INTERVAL_S = 0.1
# Finding a process's children reads every process's /proc/<pid>/stat on the machine: done ten
# times a second it was a sixth of the harness's own CPU. A child that comes and goes between
# two look-ups is still counted, in the CPU its parent has reaped.
CHILDREN_INTERVAL_S = 1.0
_MB = 1024 * 1024


@dataclass
class _Watched:
    label: str
    role: str
    process: psutil.Process
    with_children: bool
    children: dict[int, psutil.Process] = field(default_factory=dict)
    children_seen_at: float = float("-inf")
    times: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    peak_total_rss_mb: float = 0.0


class ResourceMonitor:
    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._watched: list[_Watched] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-resources", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def watch(self, label: str, role: str, pid: int, *, with_children: bool = False) -> None:
        """Samples a process from now on; `role` groups labels (every worker is "worker")."""
        watched = _Watched(label, role, psutil.Process(pid), with_children)
        self._sample(watched, time.monotonic())
        with self._lock:
            self._watched.append(watched)

    def _loop(self) -> None:
        while not self._stopping.wait(self._interval_s):
            now = time.monotonic()
            with self._lock:
                watched = list(self._watched)
            for one in watched:
                self._sample(one, now)

    def _sample(self, one: _Watched, now: float) -> None:
        try:
            with one.process.oneshot():
                times = one.process.cpu_times()
                cpu = times.user + times.system
                rss = one.process.memory_info().rss
            members = [one.process]
            if one.with_children:
                cpu += times.children_user + times.children_system
                members += self._children(one, now)
                cpu += sum(_cpu_of(child) for child in members[1:])
            sizes = [rss, *(_rss_of(child) for child in members[1:])]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return  # it stopped: its timeline ends at the last sample
        with self._lock:
            one.times.append(now)
            one.cpu_s.append(cpu)
            one.peak_rss_mb = max(one.peak_rss_mb, max(sizes) / _MB)
            one.peak_total_rss_mb = max(one.peak_total_rss_mb, sum(sizes) / _MB)

    @staticmethod
    def _children(one: _Watched, now: float) -> list[psutil.Process]:
        if now - one.children_seen_at < CHILDREN_INTERVAL_S:
            return list(one.children.values())
        one.children_seen_at = now
        try:
            live = {child.pid: child for child in one.process.children(recursive=True)}
        except psutil.NoSuchProcess:
            return []
        # Keep the Process objects we already have: psutil identifies a process by pid and
        # start time, so a reused pid is not mistaken for the old backend.
        one.children = {pid: one.children.get(pid, child) for pid, child in live.items()}
        return list(one.children.values())

    def cpu_s(self, role: str, start: float, end: float) -> float:
        """CPU seconds the role's processes spent between two time.monotonic() moments."""
        with self._lock:
            series = [(w.times[:], w.cpu_s[:]) for w in self._watched if w.role == role]
        return sum(_at(t, c, end) - _at(t, c, start) for t, c in series)

    def roles(self) -> list[str]:
        with self._lock:
            return list(dict.fromkeys(w.role for w in self._watched))

    def peak_rss_mb(self) -> dict[str, float]:
        """Peak RSS per process; for a group, of its largest process and of all together."""
        peaks: dict[str, float] = {}
        with self._lock:
            for one in self._watched:
                peaks[one.label] = round(one.peak_rss_mb, 1)
                if one.with_children:
                    peaks[f"{one.label} (all processes)"] = round(one.peak_total_rss_mb, 1)
        return peaks


def _cpu_of(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return float(times.user + times.system)


def _rss_of(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def _at(times: list[float], values: list[float], moment: float) -> float:
    """The cumulative value at `moment`: 0 before the process was seen, flat after it ended."""
    if not times or moment < times[0]:
        return 0.0
    if moment >= times[-1]:
        return values[-1]
    i = bisect_left(times, moment)
    if times[i] == moment:
        return values[i]
    t0, t1, v0, v1 = times[i - 1], times[i], values[i - 1], values[i]
    return v0 + (v1 - v0) * (moment - t0) / (t1 - t0)
