"""At most N simultaneous Mailchimp connections across every CRM process.

A counting semaphore in Redis with expiring leases: a sorted set of lease ids scored by their
expiry time (Redis's own clock, so workers' clocks may disagree). A process that dies holding
a lease loses it when it expires, so a crash never shrinks the limit for good. Without Redis
(not configured, or down) each process keeps to a small local limit instead of stopping.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS[1] the lease set; ARGV: limit, lease milliseconds, lease id. 1 when acquired.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""


class LimitTimeout(Exception):
    """No connection slot came free in time."""


class ConnectionLimit:
    def __init__(
        self,
        redis_url: str | None,
        key: str,
        *,
        limit: int,
        local_limit: int,
        lease_s: float,
        wait_max_s: float,
        poll_s: float = 0.02,
    ) -> None:
        self._redis = (
            Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            if redis_url
            else None
        )
        self._key = key
        self._limit = limit
        self._lease_ms = int(lease_s * 1000)
        self._wait_max_s = wait_max_s
        self._poll_s = poll_s
        # Never more waiters on Redis from one process than the whole limit allows.
        self._local = asyncio.Semaphore(limit)
        self._fallback = asyncio.Semaphore(local_limit)
        self._script = self._redis.register_script(_ACQUIRE) if self._redis else None
        self._warned = False

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._local:
            lease = await self._acquire()
            if lease is None:
                async with self._fallback:
                    yield
                return
            try:
                yield
            finally:
                await self._release(lease)

    async def _acquire(self) -> str | None:
        """A lease id, or None to use the local fallback (no Redis, or Redis is down)."""
        if self._script is None:
            return None
        lease = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_max_s
        while True:
            try:
                if await self._script(keys=[self._key], args=[self._limit, self._lease_ms, lease]):
                    return lease
            except (RedisError, OSError) as error:
                if not self._warned:
                    log.warning(
                        "connection limit in Redis unavailable (%s); limiting locally", error
                    )
                    self._warned = True
                return None
            if loop.time() > deadline:
                raise LimitTimeout(f"no Mailchimp connection slot within {self._wait_max_s}s")
            await asyncio.sleep(random.uniform(self._poll_s / 2, self._poll_s * 1.5))

    async def _release(self, lease: str) -> None:
        assert self._redis is not None
        try:
            await self._redis.zrem(self._key, lease)
        except (RedisError, OSError):
            log.info("lease %s not released; it expires by itself", lease)

    async def held(self) -> int:
        """Leases currently held across all processes (for tests and metrics)."""
        if self._redis is None:
            return 0
        return int(await self._redis.zcard(self._key))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
