"""`tabs publish`: send one message keyed by the contract's rule and show what it caused."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console

from shared.topics import (
    ACCOUNT_COMMANDS,
    ACCOUNT_EVENTS,
    CREDIT_DECISIONS,
    CRM_CUSTOMERS,
    CRM_LOYALTY,
    POS_SALES,
    STATEMENT_REQUESTS,
    STATEMENTS_SENT,
)

# The contract's key rule per topic: the first field present names the key.
_KEY_FIELDS: dict[str, tuple[str, ...]] = {
    POS_SALES: ("account_number", "customer_id", "sale_id"),
    ACCOUNT_COMMANDS: ("account_number",),
    CRM_CUSTOMERS: ("customer_id",),
    STATEMENT_REQUESTS: ("account_number",),
}
# Where the replies to each topic appear.
_REPLY_TOPICS: dict[str, tuple[str, ...]] = {
    POS_SALES: (CREDIT_DECISIONS, ACCOUNT_EVENTS, CRM_LOYALTY),
    ACCOUNT_COMMANDS: (ACCOUNT_EVENTS,),
    CRM_CUSTOMERS: (),
    STATEMENT_REQUESTS: (STATEMENTS_SENT,),
}

console = Console()


def read_payload(payload: str) -> bytes:
    if payload == "-":
        return sys.stdin.buffer.read()
    if payload.startswith("@"):
        return Path(payload[1:]).read_bytes()
    return payload.encode()


def contract_key(topic: str, message: dict[str, Any]) -> str | None:
    for field in _KEY_FIELDS.get(topic, ()):
        value = message.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def _related(topic: str, sent: dict[str, Any], reply: dict[str, Any]) -> bool:
    if topic == POS_SALES:
        return (
            reply.get("request_event_id") == sent.get("event_id")
            or (reply.get("sale_id") == sent.get("sale_id") is not None)
            or (reply.get("entry", {}) or {}).get("reference") == sent.get("sale_id")
        )
    return reply.get("account_number") == sent.get("account_number") or (
        reply.get("command_id") == sent.get("command_id") is not None
    )


async def publish_and_follow(
    topic: str, payload: str, bootstrap: str, key: str | None, wait_s: float
) -> int:
    raw = read_payload(payload)
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        console.print(f"[red]not JSON:[/red] {error}")
        return 2
    chosen_key = key or contract_key(topic, message if isinstance(message, dict) else {})
    started_ms = int(time.time() * 1000) - 1000
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        metadata = await producer.send_and_wait(
            topic, raw, key=chosen_key.encode() if chosen_key else None
        )
    finally:
        await producer.stop()
    console.print(
        f"published to {topic}[{metadata.partition}]@{metadata.offset} key={chosen_key!r}"
    )
    replies = _REPLY_TOPICS.get(topic, ())
    if wait_s <= 0 or not replies or not isinstance(message, dict):
        return 0
    return await _follow(topic, message, replies, bootstrap, started_ms, wait_s)


async def _follow(
    topic: str,
    sent: dict[str, Any],
    replies: tuple[str, ...],
    bootstrap: str,
    since_ms: int,
    wait_s: float,
) -> int:
    consumer = AIOKafkaConsumer(
        *replies,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    seen = 0
    deadline = time.monotonic() + wait_s
    quiet_until: float | None = None
    try:
        while time.monotonic() < deadline and (
            quiet_until is None or time.monotonic() < quiet_until
        ):
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if record.timestamp < since_ms or record.value is None:
                        continue
                    reply = orjson.loads(record.value)
                    if isinstance(reply, dict) and _related(topic, sent, reply):
                        seen += 1
                        console.print(f"[bold]{record.topic}[/bold]")
                        console.print_json(record.value.decode())
                        # Related events (an entry after a decision) follow within moments.
                        quiet_until = time.monotonic() + 0.5
    finally:
        await asyncio.shield(consumer.stop())
    if not seen:
        console.print(f"[yellow]no reply within {wait_s:.0f}s[/yellow]")
        return 1
    return 0
