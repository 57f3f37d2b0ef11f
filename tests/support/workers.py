"""Running a real worker inside a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.common.clock import Clock
from services.common.service import ServiceSpec
from services.common.settings import RuntimeSettings
from services.common.worker import Worker


@asynccontextmanager
async def running_worker(
    spec: ServiceSpec, settings: RuntimeSettings, database_url: str, clock: Clock | None = None
) -> AsyncIterator[Worker]:
    worker = Worker(spec, settings, database_url, clock=clock)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
