"""The processes under test: workers as `tabs up` runs them, and the two references."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from bench.config import BenchConfig
from services.local.process import free_port
from services.local.stack import WorkerProcess

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def worker_env(
    config: BenchConfig,
    *,
    bootstrap: str,
    topic_prefix: str,
    redis_url: str | None = None,
    consumers: int | None = None,
) -> dict[str, str]:
    """A phase's workers: on its own topics (`topic_prefix`, ending in a dot) and in a consumer
    group named like them, with the run's settings."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TABS_TOPIC_PREFIX": topic_prefix,
        "TABS_CONSUMER_GROUP_PREFIX": topic_prefix.removesuffix("."),
        "TOPIC_PARTITIONS": str(config.partitions),
        # As `tabs up`: the embedded broker holds a group join for half the session timeout.
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        # The broker answers an empty fetch only when this runs out (see BROKER.md).
        "KAFKA_FETCH_MAX_WAIT_MS": str(config.fetch_max_wait_ms),
        "TABS_FETCH_LINGER_MS": str(config.fetch_linger_ms),
        "TABS_BATCH_SIZE_MAX": str(config.batch_size_max),
        "TABS_UNLOCKED_READS": "true" if config.unlocked_reads else "false",
    }
    if consumers is not None:
        env["TABS_CONSUMERS"] = str(consumers)
    env.pop("REDIS_URL", None)
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return env


def start_workers(
    service: str, count: int, env: Mapping[str, str], logs: Path, tag: str = ""
) -> list[WorkerProcess]:
    """Workers as `tabs up` runs them; each logs to `<service><tag>-<n>.log` in `logs`."""
    logs.mkdir(parents=True, exist_ok=True)
    started: list[WorkerProcess] = []
    try:
        for n in range(1, count + 1):
            own = {**env, "HTTP_PORT": str(free_port())}
            log_path = logs / f"{service}{tag}-{n}.log"
            started.append(WorkerProcess(service, own, log_path, "info"))
    except BaseException:
        stop_workers(started)
        raise
    return started


async def wait_ready(workers: Sequence[WorkerProcess], timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(workers)
    while pending:
        pending = [w for w in pending if not await asyncio.to_thread(w.ready)]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} workers not ready after {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


def stop_workers(workers: Sequence[WorkerProcess]) -> None:
    # Signal all first, so their group leaves overlap instead of adding up.
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.stop()


class ReferenceProcess:
    """`python -m <module> ...`, its output in a log file; stop() ends it for sure."""

    def __init__(self, module: str, args: Sequence[str], log_path: Path) -> None:
        self.name = module
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited; its log ends:\n{tail}")

    async def wait(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} still running after {timeout_s:.0f} s")
            await asyncio.sleep(0.05)
        if self.process.returncode != 0:
            self.check_alive()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
