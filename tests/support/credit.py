"""Driving a real credit worker from a test: publish commands and sales, wait for replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.settings import RuntimeSettings
from services.common.worker import Worker
from shared.topics import ACCOUNT_COMMANDS, ACCOUNT_EVENTS, CREDIT_DECISIONS, POS_SALES
from tests.support.kafka import Collector, Producer
from tests.support.naming import unique


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
