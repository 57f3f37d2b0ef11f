"""Profiling a worker while it drains the backlog: py-spy's collapsed stacks, summarised.

py-spy is not a dependency of the project (`pip install py-spy` to use --profile). It samples
the worker from outside without stopping it (--nonblocking), so the figures of a profiled run
stay close to an unprofiled one. Idle samples are kept (--idle), of the event loop's thread only:
a sample whose innermost frame is the loop's select() is the worker waiting for the broker or
the database, and the busy share is the rest. The breakdowns are shares of the busy samples.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE_HZ = 200
STOP_TIMEOUT_S = 30.0
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")


class Profiler:
    def __init__(self, pid: int, output: Path) -> None:
        binary = shutil.which("py-spy")
        if binary is None:
            raise RuntimeError("--profile needs py-spy: pip install py-spy")
        self.output = output
        self._process = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(SAMPLE_RATE_HZ),
                "--format",
                "raw",
                "--nonblocking",
                "--idle",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """py-spy writes its output when interrupted."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@dataclass(frozen=True)
class ProfileSummary:
    samples: int
    busy_pct: float
    self_by_package: list[tuple[str, float]]
    inclusive_by_function: list[tuple[str, float]]


def _package(file: str) -> str:
    """py-spy names files from their import root: `sqlalchemy/engine/base.py`, `selectors.py`."""
    parts = Path(file).parts
    if not parts:
        return file
    if parts[0] in ("services", "shared", "bench") and len(parts) > 2:
        return f"{parts[0]}/{parts[1]}"
    return parts[0].removesuffix(".py")


def _frames(stack: str) -> list[tuple[str, str]]:
    found = []
    for frame in stack.split(";"):
        match = _FRAME.match(frame.strip())
        if match:
            found.append((match["function"], match["file"]))
    return found


def _event_loop(frames: list[tuple[str, str]]) -> bool:
    """The worker's work all runs on its event loop; other threads (anyio's thread pool, say)
    mostly wait on a queue, and py-spy's --idle would count that waiting."""
    return any(function == "BaseEventLoop.run_forever" for function, _ in frames)


def _idle(frames: list[tuple[str, str]]) -> bool:
    function, file = frames[-1]
    return file == "selectors.py" and function.endswith(".select")


def summarise(path: Path, top: int = 25) -> ProfileSummary:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = busy = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames or not _event_loop(frames):
            continue
        total += count
        if _idle(frames):
            continue
        busy += count
        own[_package(frames[-1][1])] += count
        names = {f"{_package(file)}:{function}" for function, file in frames}
        for name in names:
            inclusive[name] += count
    share = 100.0 / busy if busy else 0.0
    return ProfileSummary(
        total,
        round(100.0 * busy / total, 1) if total else 0.0,
        [(name, round(n * share, 1)) for name, n in own.most_common(top)],
        [(name, round(n * share, 1)) for name, n in inclusive.most_common(top * 2)],
    )
