"""The embedded redis-server, over real redis-py connections."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis

from services.local.redis import EmbeddedRedis


async def test_set_get_then_stop(
    tmp_path: Path, assert_stopped: Callable[[int | None, int], None]
) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    try:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = Redis.from_url(server.url)
        try:
            await client.set("tabs:greeting", "kia ora")
            assert await client.get("tabs:greeting") == b"kia ora"
            assert (await client.config_get("appendonly"))["appendonly"] == "no"
        finally:
            await client.aclose()
    finally:
        pid, port = server.pid, server.port
        server.stop()
    assert_stopped(pid, port)
    # Not durable: nothing but the log was written.
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["redis.log"]


async def test_durable_keeps_keys_across_restarts(tmp_path: Path) -> None:
    for expected in (None, b"1"):
        with EmbeddedRedis(tmp_path, durable=True) as server:
            client = Redis.from_url(server.url)
            try:
                assert await client.get("tabs:kept") == expected
                await client.set("tabs:kept", "1")
            finally:
                await client.aclose()
