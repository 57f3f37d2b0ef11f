"""The credit look-up: bearer tokens, the Redis read model, and catching up after an outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from services.common.settings import RuntimeSettings
from services.credit.app import SPEC
from services.local.redis import EmbeddedRedis
from shared.topics import ACCOUNT_EVENTS, CREDIT_DECISIONS
from tests.support.credit import Harness, authorize, open_account
from tests.support.kafka import Collector, Producer
from tests.support.naming import unique
from tests.support.workers import running_worker

TOKEN = {"Authorization": "Bearer test-token"}


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    """A Redis of this test's own, so the test may stop and restart it."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def credit_with_redis(
    settings: RuntimeSettings, database_url: str, redis_server: EmbeddedRedis
) -> AsyncIterator[Harness]:
    settings = settings.model_copy(update={"redis_url": redis_server.url})
    async with running_worker(SPEC, settings, database_url) as worker:
        producer = Producer(settings.kafka_bootstrap_servers)
        await producer.start()
        replies = Collector(
            settings.kafka_bootstrap_servers,
            [settings.topic(CREDIT_DECISIONS), settings.topic(ACCOUNT_EVENTS)],
        )
        await replies.start()
        try:
            yield Harness(settings, worker, producer, replies)
        finally:
            await replies.stop()
            await producer.stop()


async def look_up(
    harness: Harness, number: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    url = f"http://127.0.0.1:{harness.worker.http_port}/v1/accounts/{number}"
    async with httpx.AsyncClient() as client:
        return await client.get(url, headers=headers if headers is not None else TOKEN)


async def eventually(check: Any, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_look_up_shows_balance_open_items_and_aging(credit_with_redis: Harness) -> None:
    harness = credit_with_redis
    number = unique("ACC-")
    await harness.open(open_account(number, opening_balance="10.00"))
    sale = authorize(number, "125.50")
    await harness.sale(sale)
    await harness.decision(sale["event_id"])

    async def charged() -> Any:
        # The view is refreshed just after the decision is published, so it may trail it.
        response = await look_up(harness, number)
        assert response.status_code == 200
        return response.json() if response.json()["balance"] == "135.50" else None

    view = await eventually(charged)
    assert view["available_credit"] == "864.50"
    assert view["status"] == "active" and view["currency"] == "NZD"
    assert [i["reference"] for i in view["open_items"]][-1] == sale["sale_id"]
    # Timestamps as the events write them: ISO 8601 with "Z" for UTC.
    assert all(i["posted_at"].endswith("Z") for i in view["open_items"])
    assert sum(float(v) for v in view["aging"].values()) == pytest.approx(135.50)
    assert view["aging"]["current"] == "135.50"


async def test_look_up_needs_a_valid_token_and_reveals_nothing(
    credit_with_redis: Harness,
) -> None:
    number = unique("ACC-")
    await credit_with_redis.open(open_account(number))
    missing = await look_up(credit_with_redis, number, headers={})
    wrong = await look_up(credit_with_redis, number, {"Authorization": "Bearer nope"})
    unknown = await look_up(credit_with_redis, "ACC-NOBODY", {"Authorization": "Bearer x"})
    assert missing.status_code == wrong.status_code == unknown.status_code == 401
    assert missing.json() == wrong.json() == unknown.json() == {"error": "unauthorized"}
    assert (await look_up(credit_with_redis, "ACC-NOBODY")).status_code == 404


async def test_health_and_metrics_are_open(credit_with_redis: Harness) -> None:
    base = f"http://127.0.0.1:{credit_with_redis.worker.http_port}"
    async with httpx.AsyncClient() as client:
        live = await client.get(f"{base}/health/live")
        ready = await client.get(f"{base}/health/ready")
        metrics = await client.get(f"{base}/metrics")
    assert live.status_code == ready.status_code == metrics.status_code == 200
    assert "tabs_messages_total" in metrics.text


async def test_read_model_catches_up_when_redis_returns(
    credit_with_redis: Harness,
    redis_server: EmbeddedRedis,
) -> None:
    harness = credit_with_redis
    number = unique("ACC-")
    await harness.open(open_account(number))
    port = redis_server.port
    redis_server.stop()
    sale = authorize(number, "40.00")
    await harness.sale(sale)
    [decision] = await harness.decision(sale["event_id"])
    assert decision["decision"] == "approved"  # a decision never depends on Redis
    # Redis down: the look-up answers from the database.
    assert (await look_up(harness, number)).json()["balance"] == "40.00"
    restarted = EmbeddedRedis(redis_server.data_dir, port=port)
    restarted.start()
    try:
        client = Redis.from_url(restarted.url)
        key = f"{harness.settings.topic_prefix}tabs:credit:account:{number}"

        async def refreshed() -> bool:
            raw = await client.get(key)
            return raw is not None and orjson.loads(raw)["balance"] == "40.00"

        await eventually(refreshed)
        await client.aclose()
    finally:
        restarted.stop()
