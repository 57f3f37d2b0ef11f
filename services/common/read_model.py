"""Read models in Redis, refreshed after each commit, for look-ups that never wait on Kafka.

The database is the truth; Redis holds views of it. A view is rebuilt from the database after
every commit that touched it, so a failed refresh (Redis down) is repaired by the next one: the
keys are kept and retried, and a worker rebuilds every view when it starts. Decisions never read
Redis.

Several workers refresh views (each after its own commits, and all of them when they start), so
a view read before another worker's commit could reach Redis after that commit's own refresh.
So a view is written only over one read earlier, by a script that compares and sets in one step
in Redis. Earlier by a ticket, a number Redis counts up, that each refresh takes before it
reads the database: the refresh a commit starts takes its ticket after that commit, and every
refresh with a later ticket reads later still, so the view with the highest ticket has read
every commit before the last refresh began; a refresh that read earlier and writes late holds a
lower ticket and is refused. Nothing in the views needs to order them (a customer's spans
several tables, and no writer of an account has to remember anything), for one more round trip
to Redis a refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.messages import Outgoing

log = logging.getLogger(__name__)


class Views(Protocol):
    """What a service keeps in its read model."""

    name: str

    def keys_of(self, messages: Sequence[Outgoing]) -> set[str]:
        """The views a committed batch may have changed, from what it published."""
        ...

    async def all_keys(self, conn: AsyncConnection) -> list[str]: ...

    async def build(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Any]:
        """The current view of each key that exists (JSON-ready)."""
        ...


# KEYS: each view's key and its ticket's key, in pairs; ARGV[1]: the refresh's ticket, then
# each view's JSON. A view is written unless Redis holds one a later refresh read.
_WRITE_NEWER = """
local ticket = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
    local stored = redis.call('GET', KEYS[i + 1])
    if not stored or tonumber(stored) <= ticket then
        redis.call('SET', KEYS[i], ARGV[(i + 1) / 2 + 1])
        redis.call('SET', KEYS[i + 1], ticket)
    end
end
return 0
"""


class ReadModel:
    def __init__(
        self,
        engine: AsyncEngine,
        views: Views,
        redis_url: str | None,
        key_prefix: str,
        *,
        retry_interval_s: float = 1.0,
        batch_keys_max: int = 500,
    ) -> None:
        self._engine = engine
        self._views = views
        self._redis = (
            Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            if redis_url
            else None
        )
        self._prefix = f"{key_prefix}{views.name}:"
        self._write_newer = self._redis.register_script(_WRITE_NEWER) if self._redis else None
        self._pending: set[str] = set()
        # Refreshes run concurrently (a worker's consumers, the retry loop, the rebuild at
        # start): each chunk is read and written under this lock, so that a view read earlier
        # is never written over one read later.
        self._writing = asyncio.Lock()
        self._retry_interval_s = retry_interval_s
        self._batch_keys_max = batch_keys_max

    def redis_key(self, key: str) -> str:
        return self._prefix + key

    def ticket_key(self, key: str) -> str:
        """Where Redis keeps the ticket of the refresh that wrote the view it holds."""
        return f"{self._prefix}{key}#ticket"

    @property
    def _tickets_key(self) -> str:
        return f"{self._prefix}#tickets"

    @property
    def views(self) -> Views:
        return self._views

    async def refresh(self, keys: Iterable[str]) -> None:
        """Refreshes views changed outside the pipeline (a service's own background work)."""
        await self._refresh(keys)

    async def committed(self, messages: Sequence[Outgoing]) -> None:
        """Refreshes the views a commit touched; a failure keeps them for the retry loop."""
        keys = self._views.keys_of(messages)
        if keys:
            await self._refresh(keys)

    async def _refresh(self, keys: Iterable[str]) -> None:
        if self._redis is None:
            return
        wanted = sorted({*keys, *self._pending})
        try:
            for start in range(0, len(wanted), self._batch_keys_max):
                chunk = wanted[start : start + self._batch_keys_max]
                async with self._writing:
                    # Taken before the read: it orders the views (module docstring).
                    ticket = await self._redis.incr(self._tickets_key)
                    async with self._engine.connect() as conn:
                        views = await self._views.build(conn, chunk)
                    if views:
                        await self._write(views, ticket)
            # Only what this refresh wrote: another may have failed meanwhile.
            self._pending.difference_update(wanted)
        except (RedisError, OSError) as error:
            if not self._pending:
                log.warning(
                    "read model %s not refreshed (%s); will retry",
                    self._views.name,
                    type(error).__name__,
                )
            self._pending.update(wanted)

    async def _write(self, views: dict[str, Any], ticket: int) -> None:
        assert self._write_newer is not None
        keys: list[str] = []
        args: list[int | bytes] = [ticket]
        for key, view in views.items():
            keys += [self.redis_key(key), self.ticket_key(key)]
            args.append(orjson.dumps(view))
        await self._write_newer(keys=keys, args=args)

    async def rebuild(self) -> None:
        """Every view from the database: a worker's start repairs whatever was missed."""
        async with self._engine.connect() as conn:
            keys = await self._views.all_keys(conn)
        await self._refresh(keys)

    async def run(self) -> None:
        """Retries pending refreshes until cancelled."""
        while True:
            await asyncio.sleep(self._retry_interval_s)
            if self._pending:
                await self._refresh(())

    async def get(self, key: str) -> dict[str, Any] | None:
        """The view, from Redis; from the database when Redis is down or behind."""
        if self._redis is not None:
            try:
                raw = await self._redis.get(self.redis_key(key))
                if raw is not None:
                    view: dict[str, Any] = orjson.loads(raw)
                    return view
            except (RedisError, OSError):
                log.info("read model %s unavailable; answering from the database", self._views.name)
        async with self._engine.connect() as conn:
            views = await self._views.build(conn, [key])
        return views.get(key)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
