"""The credit path end to end through the real broker and database (PostgreSQL and SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from services.common.settings import RuntimeSettings
from services.common.worker import Worker
from services.credit import repository
from services.credit.app import SPEC
from services.credit.tables import entries
from shared.topics import ACCOUNT_COMMANDS, ACCOUNT_EVENTS, CREDIT_DECISIONS, POS_SALES
from tests.support.kafka import Collector, Producer
from tests.support.naming import unique
from tests.support.workers import running_worker


@dataclass
class Harness:
    settings: RuntimeSettings
    worker: Worker
    producer: Producer
    replies: Collector

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def command(self, command: dict[str, Any]) -> None:
        await self.producer.send(self.topic(ACCOUNT_COMMANDS), command, command["account_number"])

    async def open(self, command: dict[str, Any]) -> dict[str, Any]:
        """Opens an account and waits for it: commands and sales are different topics, and
        Kafka orders nothing across topics."""
        await self.command(command)
        return await self.account_event("account_opened", command["account_number"])

    async def sale(self, sale: dict[str, Any] | bytes, key: str | None = None) -> None:
        if isinstance(sale, dict):
            key = key or sale.get("account_number")
        await self.producer.send(self.topic(POS_SALES), sale, key)

    async def decision(self, event_id: str, count: int = 1) -> list[dict[str, Any]]:
        return await self.replies.wait_for(
            self.topic(CREDIT_DECISIONS),
            lambda m: m["request_event_id"] == event_id,
            count=count,
        )

    async def account_event(self, kind: str, account: str) -> dict[str, Any]:
        found = await self.replies.wait_for(
            self.topic(ACCOUNT_EVENTS),
            lambda m: m["type"] == kind and m["account_number"] == account,
        )
        return found[0]


@pytest.fixture
async def credit(settings: RuntimeSettings, database_url: str) -> AsyncIterator[Harness]:
    async with running_worker(SPEC, settings, database_url) as worker:
        producer = Producer(settings.kafka_bootstrap_servers)
        await producer.start()
        topics = [settings.topic(t) for t in (CREDIT_DECISIONS, ACCOUNT_EVENTS)]
        topics.append(settings.topic(POS_SALES) + ".dlq")
        topics.append(settings.topic(ACCOUNT_COMMANDS) + ".dlq")
        replies = Collector(settings.kafka_bootstrap_servers, topics)
        await replies.start()
        try:
            yield Harness(settings, worker, producer, replies)
        finally:
            await replies.stop()
            await producer.stop()


def open_account(
    number: str, limit: str = "1000.00", restrict: bool = True, **extra: Any
) -> dict[str, Any]:
    return {
        "command_id": unique("c-"),
        "issued_at": "2026-11-22T09:00:00+13:00",
        "issued_by": "back-office",
        "type": "open_account",
        "account_number": number,
        "name": "Hammer & Sons Ltd",
        "currency": "NZD",
        "credit_limit": limit,
        "restrict_credit": restrict,
        "credit_period_days": 30,
        "settlement_frequency": {"every": 1, "unit": "month", "anchor": "2026-12-01"},
        "statement_email": "accounts@hammer.example",
        **extra,
    }


def authorize(account: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": unique("e-"),
        "occurred_at": "2026-11-22T10:15:00+13:00",
        "store_id": "store-1",
        "terminal_id": "till-2",
        "sale_id": unique("S-"),
        "stage": "authorize",
        "currency": "NZD",
        "total": amount,
        "lines": [
            {
                "sku": "HAMMER-1",
                "description": "Claw hammer",
                "quantity": "1",
                "unit_price": amount,
                "amount": amount,
                "category": "tools",
            }
        ],
        "tenders": [{"type": "account", "amount": amount}],
        "account_number": account,
        "customer_id": "C-77",
        "override": None,
        **extra,
    }


async def test_open_account_publishes_account_opened(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.command(open_account(number, opening_balance="300.00"))
    opened = await credit.account_event("account_opened", number)
    assert opened["status"] == "active"
    assert opened["credit_limit"] == "1000.00"
    assert opened["currency"] == "NZD"
    entry = (await credit.account_event("entry_posted", number))["entry"]
    assert entry["kind"] == "opening_balance"
    assert entry["amount"] == "300.00"
    assert entry["balance_after"] == "300.00"


async def test_authorize_approves_and_posts_the_charge(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, opening_balance="300.00"))
    sale = authorize(number, "125.50")
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    assert decision["decision"] == "approved"
    assert decision["reason"] is None
    assert decision["balance"] == "425.50"
    assert decision["credit_limit"] == "1000.00"
    assert decision["available_credit"] == "574.50"
    assert decision["over_limit"] is False
    assert decision["decided_at"].endswith("+13:00")
    entry = await credit.replies.wait_for(
        credit.topic(ACCOUNT_EVENTS),
        lambda m: m["type"] == "entry_posted" and m["entry"]["reference"] == sale["sale_id"],
    )
    assert entry[0]["entry"]["kind"] == "charge"
    assert entry[0]["entry"]["amount"] == "125.50"
    assert entry[0]["entry"]["forced"] is False


async def test_restricted_account_approved_at_limit_and_declined_a_cent_over(
    credit: Harness,
) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, limit="100.00"))
    over = authorize(number, "100.01")
    await credit.sale(over)
    [declined] = await credit.decision(over["event_id"])
    assert declined["decision"] == "declined"
    assert declined["reason"] == "insufficient_credit"
    assert declined["balance"] == "0.00"
    exact = authorize(number, "100.00")
    await credit.sale(exact)
    [approved] = await credit.decision(exact["event_id"])
    assert approved["decision"] == "approved"
    assert approved["balance"] == "100.00"
    assert approved["available_credit"] == "0.00"


async def test_unrestricted_account_goes_over_limit_flagged(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, limit="50.00", restrict=False))
    sale = authorize(number, "80.00")
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    assert decision["decision"] == "approved"
    assert decision["over_limit"] is True
    assert decision["available_credit"] == "-30.00"


async def test_same_event_twice_has_one_effect_and_the_same_decision(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    sale = authorize(number, "40.00")
    await credit.sale(sale)
    await credit.decision(sale["event_id"])
    await credit.sale(sale)
    first, second = await credit.decision(sale["event_id"], count=2)
    assert first == second
    async with credit.worker.engine.connect() as conn:
        account = await repository.find_account(conn, number)
        charges = await conn.scalar(
            select(func.count()).select_from(entries).where(entries.c.account_number == number)
        )
    assert account is not None and account.balance == Decimal("40.00")
    assert charges == 1


async def test_approved_sale_id_is_charged_once(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    sale = authorize(number, "40.00")
    await credit.sale(sale)
    await credit.decision(sale["event_id"])
    retry = {**sale, "event_id": unique("e-")}
    await credit.sale(retry)
    [again] = await credit.decision(retry["event_id"])
    assert again["decision"] == "approved"
    assert again["balance"] == "40.00"
    async with credit.worker.engine.connect() as conn:
        posted = await repository.account_entries(conn, number)
    assert [e.kind for e in posted] == ["charge"]


async def test_invalid_sale_goes_to_dead_letters_and_the_next_one_is_decided(
    credit: Harness,
) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    bad = authorize(number, "10.00")
    bad["total"] = 10.0  # a JSON float has already lost cents
    raw = orjson.dumps(bad)
    await credit.sale(raw, key=number)
    await credit.sale(b"{not json", key=number)
    good = authorize(number, "10.00")
    await credit.sale(good)
    [decision] = await credit.decision(good["event_id"])
    assert decision["decision"] == "approved"
    [rejected] = await credit.decision(bad["event_id"])
    assert rejected["decision"] == "declined"
    assert rejected["reason"] == "invalid_request"
    letters = await credit.replies.wait_for(
        credit.topic(POS_SALES) + ".dlq", lambda m: True, count=2
    )
    assert letters[0]["consumer_group"] == credit.settings.consumer_group_prefix + "-credit"
    assert "total" in letters[0]["error"]
    assert letters[0]["failed_at"]
    originals = {letter["original_text"] for letter in letters}
    assert raw.decode() in originals and "{not json" in originals


async def test_invalid_command_is_rejected_and_dead_lettered(credit: Harness) -> None:
    number = unique("ACC-")
    command = open_account(number)
    del command["currency"]
    await credit.command(command)
    rejected = await credit.account_event("command_rejected", number)
    assert rejected["command_id"] == command["command_id"]
    assert rejected["reason"] == "invalid_command"
    assert "currency" in rejected["detail"]
    await credit.replies.wait_for(credit.topic(ACCOUNT_COMMANDS) + ".dlq", lambda m: True)
