"""The read model in Redis: refreshes that overlap (a worker's consumers, the retry loop, the
rebuild at start) never leave a view older than the database's latest read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from services.common.messages import Outgoing
from services.common.read_model import ReadModel, Views
from tests.support.naming import unique


class SlowFirstRead:
    """Views whose first build reads the state, then waits (a slow database answer)."""

    name = "slow"

    def __init__(self) -> None:
        self.state: dict[str, int] = {}
        self.read_once = asyncio.Event()
        self.release = asyncio.Event()
        self._builds = 0

    def keys_of(self, messages: Sequence[Outgoing]) -> set[str]:
        return set()

    async def all_keys(self, conn: AsyncConnection) -> list[str]:
        return list(self.state)

    async def build(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Any]:
        views = {k: {"version": self.state[k]} for k in keys if k in self.state}
        self._builds += 1
        if self._builds == 1:
            self.read_once.set()
            await self.release.wait()
        return views


async def test_a_view_read_earlier_is_never_written_over_one_read_later(redis_url: str) -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    views = SlowFirstRead()
    model = ReadModel(engine, views, redis_url, key_prefix=f"{unique('t')}:")
    try:
        views.state["k"] = 1
        first = asyncio.create_task(model.refresh(["k"]))
        await views.read_once.wait()
        # A commit changes the view and refreshes it while the first refresh is still out.
        views.state["k"] = 2
        second = asyncio.create_task(model.refresh(["k"]))
        await asyncio.sleep(0.2)
        views.release.set()
        await asyncio.gather(first, second)
        assert await model.get("k") == {"version": 2}
        assert model.pending == 0
    finally:
        await model.close()
        await engine.dispose()


class SharedState(SlowFirstRead):
    """Another replica's views of the same database (the same state), which never wait."""

    def __init__(self, state: dict[str, int]) -> None:
        super().__init__()
        self.state = state
        self.read_once.set()
        self.release.set()


@asynccontextmanager
async def two_replicas(
    slow: SlowFirstRead, other: Views, redis_url: str
) -> AsyncIterator[tuple[ReadModel, ReadModel]]:
    """Two workers' read models on one Redis, the first with views slow to write."""
    engine = create_async_engine("sqlite+aiosqlite://")
    prefix = f"{unique('t')}:"
    first = ReadModel(engine, slow, redis_url, key_prefix=prefix)
    second = ReadModel(engine, other, redis_url, key_prefix=prefix)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()
        await engine.dispose()


async def the_first_writes_late(first: ReadModel, second: ReadModel, slow: SlowFirstRead) -> None:
    """The first reads state 1 and is slow to write it; meanwhile a commit makes it 2 and the
    second writes that; the first one's write comes last."""
    slow.state["k"] = 1
    late = asyncio.create_task(first.refresh(["k"]))
    await slow.read_once.wait()
    slow.state["k"] = 2
    await second.refresh(["k"])
    slow.release.set()
    await late


async def test_a_view_another_replica_read_earlier_never_replaces_a_newer_one(
    redis_url: str,
) -> None:
    """Two workers (two read models, one Redis): the first reads version 1 and is slow to write
    it; meanwhile a commit makes version 2 and the second worker writes it. The first one's
    write comes last, and must not win: the in-process lock cannot order two processes."""
    slow = SlowFirstRead()
    async with two_replicas(slow, SharedState(slow.state), redis_url) as (first, second):
        await the_first_writes_late(first, second, slow)
        assert await first.get("k") == {"version": 2}
        assert await second.get("k") == {"version": 2}
        # A newer version still replaces it, and an equal one is written again.
        slow.state["k"] = 3
        await first.refresh(["k"])
        assert await second.get("k") == {"version": 3}


class Unversioned(SharedState):
    async def build(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Any]:
        return {k: {"value": self.state[k]} for k in keys if k in self.state}


class SlowUnversioned(SlowFirstRead):
    """Views without a version (the CRM's) whose first build reads, then waits."""

    async def build(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Any]:
        views = await super().build(conn, keys)
        return {k: {"value": view["version"]} for k, view in views.items()}


async def test_a_view_without_a_version_read_earlier_never_replaces_a_later_one(
    redis_url: str,
) -> None:
    """As with versions, two replicas: the first reads value 1 and is slow to write it, the
    second reads 2 after a commit and writes it first. Nothing in the views orders them; the
    tickets the refreshes took before reading do."""
    slow = SlowUnversioned()
    async with two_replicas(slow, Unversioned(slow.state), redis_url) as (first, second):
        await the_first_writes_late(first, second, slow)
        assert await second.get("k") == {"value": 2}
        # A later refresh is written whatever its value: the views are ordered by when they
        # were read, not by what they hold.
        slow.state["k"] = 0
        await first.refresh(["k"])
        assert await second.get("k") == {"value": 0}
        assert first.pending == second.pending == 0


async def test_views_without_a_version_are_written_in_the_order_they_were_read(
    redis_url: str,
) -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    views = Unversioned({"k": 5})
    model = ReadModel(engine, views, redis_url, key_prefix=f"{unique('t')}:")
    try:
        await model.refresh(["k"])
        views.state["k"] = 4
        await model.refresh(["k"])
        assert await model.get("k") == {"value": 4}
    finally:
        await model.close()
        await engine.dispose()
