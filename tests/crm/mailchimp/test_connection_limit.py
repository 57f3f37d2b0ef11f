"""The connection limit across processes: a semaphore in the real Redis with expiring leases."""

from __future__ import annotations

import asyncio

from services.crm.mailchimp.connection_limit import ConnectionLimit
from tests.support.naming import unique


def limit(redis_url: str | None, key: str, **options: float) -> ConnectionLimit:
    settings = {"limit": 3, "local_limit": 1, "lease_s": 5.0, "wait_max_s": 5.0, **options}
    return ConnectionLimit(
        redis_url,
        key,
        limit=int(settings["limit"]),
        local_limit=int(settings["local_limit"]),
        lease_s=settings["lease_s"],
        wait_max_s=settings["wait_max_s"],
    )


async def busiest(limits: list[ConnectionLimit], calls: int) -> int:
    """The most calls ever inside a slot at once, over `calls` calls spread over `limits`."""
    inside = 0
    most = 0

    async def call(n: int) -> None:
        nonlocal inside, most
        async with limits[n % len(limits)].slot():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.03)
            inside -= 1

    await asyncio.gather(*(call(n) for n in range(calls)))
    return most


async def test_two_workers_together_stay_within_the_limit(redis_url: str) -> None:
    key = unique("limit-")
    workers = [limit(redis_url, key), limit(redis_url, key)]
    try:
        assert await busiest(workers, 24) == 3
        assert await workers[0].held() == 0
    finally:
        for worker in workers:
            await worker.close()


async def test_a_dead_workers_leases_expire(redis_url: str) -> None:
    key = unique("limit-")
    dead = limit(redis_url, key, lease_s=0.3)
    alive = limit(redis_url, key, wait_max_s=5.0)
    try:
        for _ in range(3):  # taken and never given back: the worker died holding them
            assert await dead._acquire() is not None
        assert await dead.held() == 3
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with alive.slot():
            waited = loop.time() - started
        assert 0.2 <= waited < 2.0
    finally:
        await dead.close()
        await alive.close()


async def test_without_redis_each_process_keeps_to_its_local_limit() -> None:
    assert await busiest([limit(None, "unused", local_limit=2)], 10) == 2


async def test_redis_down_falls_back_to_the_local_limit() -> None:
    unreachable = limit("redis://127.0.0.1:1/0", "unused", local_limit=1)
    try:
        assert await busiest([unreachable], 4) == 1
    finally:
        await unreachable.close()
