"""The worker process's collector settings (run in a child: freezing is for the whole process)."""

from __future__ import annotations

import subprocess
import sys

from services.common.worker import GC_YOUNG_THRESHOLD

_CHILD = """
import gc
from services.common.worker import settle_garbage_collector
before = gc.get_threshold()
loaded = [object() for _ in range(10)] + [[] for _ in range(10)]
settle_garbage_collector()
after = gc.get_threshold()
print(after[0], after[1] == before[1], after[2] == before[2], gc.get_freeze_count() >= 10)
"""


def test_a_worker_process_freezes_what_it_loaded_and_collects_young_objects_less_often() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == [str(GC_YOUNG_THRESHOLD), "True", "True", "True"]
