"""A CRM worker's surroundings in a test: its topics, a producer, a reader of crm.loyalty.v1 and
the dead letters, the look-up over HTTP, and the Mailchimp stand-in's admin controls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from services.common.clock import SetClock
from services.common.worker import Worker
from services.crm.app import SPEC
from services.crm.settings import CrmSettings
from services.local.mailchimp import MailchimpServer
from shared.topics import CRM_CUSTOMERS, CRM_LOYALTY, POS_SALES, dead_letter_topic
from tests.support.kafka import Collector
from tests.support.naming import unique
from tests.support.workers import running_worker

TOKEN = {"Authorization": "Bearer test-token"}
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], timeout_s: float = 20.0) -> T:
    """The first truthy result of `check`, polled until the bound."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"condition not met within {timeout_s}s"
        await asyncio.sleep(0.05)


@dataclass
class Crm:
    settings: CrmSettings
    worker: Worker
    producer: AIOKafkaProducer
    output: Collector
    mailchimp: MailchimpServer
    clock: SetClock

    def now(self) -> str:
        """The worker's time, as a till would write it on a sale."""
        return self.clock.now().isoformat()

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def customer(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        event = {"event_id": unique("cu-"), "customer_id": customer_id, **fields}
        await self.send(CRM_CUSTOMERS, event, customer_id)
        return event

    async def sale(self, sale: dict[str, Any]) -> dict[str, Any]:
        key = sale.get("account_number") or sale.get("customer_id") or sale["sale_id"]
        await self.send(POS_SALES, sale, key)
        return sale

    async def send(self, topic: str, value: dict[str, Any], key: str) -> None:
        await self.producer.send_and_wait(self.topic(topic), orjson.dumps(value), key=key.encode())

    async def send_many(self, topic: str, values: list[tuple[str, dict[str, Any]]]) -> None:
        """Many messages in flight at once, then one wait for them all."""
        sent = [
            await self.producer.send(self.topic(topic), orjson.dumps(v), key=k.encode())
            for k, v in values
        ]
        await asyncio.gather(*sent)

    async def loyalty(
        self, customer_id: str, kind: str, count: int = 1, timeout_s: float = 20.0
    ) -> list[dict[str, Any]]:
        return await self.output.wait_for(
            self.topic(CRM_LOYALTY),
            lambda m: m["customer_id"] == customer_id and m["type"] == kind,
            count=count,
            timeout_s=timeout_s,
        )

    def loyalty_of(self, customer_id: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.output.messages(self.topic(CRM_LOYALTY))
            if m["customer_id"] == customer_id
        ]

    async def dead_letter(
        self, topic: str, predicate: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        found = await self.output.wait_for(self.topic(dead_letter_topic(topic)), predicate)
        return found[0]

    async def look_up(
        self, customer_id: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        url = f"http://127.0.0.1:{self.worker.http_port}/v1/customers/{customer_id}"
        async with httpx.AsyncClient() as client:
            return await client.get(url, headers=TOKEN if headers is None else headers)

    async def view_when(
        self, customer_id: str, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 20.0
    ) -> dict[str, Any]:
        last: list[object] = [None]

        async def check() -> dict[str, Any] | None:
            response = await self.look_up(customer_id)
            if response.status_code != 200:
                last[0] = f"HTTP {response.status_code}"
                return None
            view: dict[str, Any] = response.json()
            last[0] = view
            return view if predicate(view) else None

        try:
            return await eventually(check, timeout_s)
        except AssertionError as timed_out:
            # What was seen last tells a late worker from a wrong view.
            raise AssertionError(f"{timed_out}; {customer_id}'s last view: {last[0]}") from None

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient() as client:
            response = await client.request(method, f"{self.mailchimp.url}/_admin{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    async def audience(self) -> dict[str, dict[str, Any]]:
        """The stand-in's members by email, from its admin dump."""
        dump = await self.admin("GET", f"/lists/{self.mailchimp.audience_id}/audience")
        return {m["email_address"]: m for m in dump["members"]}


def runtime_settings(kafka_bootstrap: str, redis_url: str) -> dict[str, Any]:
    """What tests/conftest.py's `settings` holds, for fixtures wider than one test."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "TABS_TOPIC_PREFIX": unique("t") + ".",
        "TABS_CONSUMER_GROUP_PREFIX": unique("g"),
        "HTTP_PORT": 0,
        "API_TOKENS": "test-token",
        "TOPIC_PARTITIONS": 3,
        "KAFKA_FETCH_MAX_WAIT_MS": 10,
        "TABS_RETRY_BACKOFF_MAX_S": 0.5,
    }


def crm_settings(base: dict[str, Any], mailchimp: MailchimpServer, **extra: Any) -> CrmSettings:
    return CrmSettings.model_validate(
        {
            **base,
            "MAILCHIMP_API_KEY": mailchimp.api_key,
            "MAILCHIMP_AUDIENCE_ID": mailchimp.audience_id,
            "MAILCHIMP_API_URL": mailchimp.api_url,
            "MAILCHIMP_WEBHOOK_SECRET": "s3cret-s3cret-s3cret",
            "MAILCHIMP_SYNC_INTERVAL_S": 0.05,
            "MAILCHIMP_BATCH_POLL_INTERVAL_S": 0.05,
            "MAILCHIMP_BACKOFF_BASE_S": 0.05,
            "MAILCHIMP_BACKOFF_MAX_S": 1.0,
            "MAILCHIMP_TIMEOUT_S": 5.0,
            "LOYALTY_SWEEP_INTERVAL_S": 0.05,
            # Tansu holds a group join for half the session timeout (../shared/BROKER.md).
            "KAFKA_SESSION_TIMEOUT_MS": 2000,
            "KAFKA_HEARTBEAT_INTERVAL_MS": 200,
            **extra,
        }
    )


@asynccontextmanager
async def crm_harness(
    settings: CrmSettings,
    database_url: str,
    mailchimp: MailchimpServer,
    clock: SetClock,
) -> AsyncIterator[Crm]:
    output = Collector(
        settings.kafka_bootstrap_servers,
        [
            settings.topic(CRM_LOYALTY),
            settings.topic(dead_letter_topic(POS_SALES)),
            settings.topic(dead_letter_topic(CRM_CUSTOMERS)),
        ],
    )
    async with running_worker(SPEC, settings, database_url, clock=clock) as worker:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
        await producer.start()
        await output.start()
        try:
            yield Crm(settings, worker, producer, output, mailchimp, clock)
        finally:
            await output.stop()
            await producer.stop()
