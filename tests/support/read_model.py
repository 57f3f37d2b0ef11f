"""Real views held back between their read and their write, to race another process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


class HeldAfterFirstRead:
    """Mixed in before a service's views: the first build, once read from the database, waits
    for `release` before it is returned (and so written); `read` is set when it has read."""

    read: asyncio.Event
    release: asyncio.Event

    def hold_first_read(self) -> None:
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def build(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Any]:
        views: dict[str, Any] = await super().build(conn, keys)  # type: ignore[misc]
        if not self.read.is_set():
            self.read.set()
            await self.release.wait()
        return views
