"""The messages of a run: accounts to open, and what the tills send about sales.

Deterministic for a seed. Mostly approvals on roomy accounts; a tenth of the accounts are
restricted and opened close to their limit, so they soon decline; and the till behaviours the
ledger must survive: the same event sent twice, a sale retried under a new event id, a void.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

NEAR_LIMIT_SHARE = 0.1
DUPLICATE_SHARE = 0.03
RETRY_SHARE = 0.03
VOID_SHARE = 0.03
# Duplicates, retries and voids name one of the most recent sales, as a till would.
RECENT_SALES_MAX = 500
SALE_CENTS_MIN = 500
SALE_CENTS_MAX = 12_000
TILLS_PER_STORE = 8
CURRENCY = "NZD"
OCCURRED_AT = "2026-11-22T10:15:00+13:00"


@dataclass(frozen=True)
class AccountPlan:
    number: str
    credit_limit: str
    opening_balance: str
    restricted: bool


@dataclass(frozen=True, slots=True)
class SaleMessage:
    """One record for pos.sales.v1; `decided` when the till waits for a decision."""

    event_id: str
    key: bytes
    value: bytes
    decided: bool


def plan_accounts(count: int, rng: random.Random, prefix: str) -> list[AccountPlan]:
    plans = []
    for n in range(count):
        number = f"{prefix}A{n:06d}"
        if rng.random() < NEAR_LIMIT_SHARE:
            plans.append(AccountPlan(number, "300.00", "250.00", restricted=True))
        else:
            plans.append(AccountPlan(number, "1000000.00", "0.00", restricted=rng.random() < 0.8))
    return plans


def open_account_command(plan: AccountPlan, command_id: str) -> dict[str, Any]:
    return {
        "command_id": command_id,
        "issued_at": "2026-11-22T09:00:00+13:00",
        "issued_by": "bench",
        "type": "open_account",
        "account_number": plan.number,
        "name": "Bench Trading Ltd",
        "currency": CURRENCY,
        "credit_limit": plan.credit_limit,
        "restrict_credit": plan.restricted,
        "credit_period_days": 30,
        "settlement_frequency": {"every": 1, "unit": "month", "anchor": "2026-12-01"},
        "statement_email": "accounts@bench.example",
        "opening_balance": plan.opening_balance,
    }


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def sale_event(
    event_id: str, sale_id: str, till: int, account: str, cents: int, stage: str
) -> dict[str, Any]:
    amount = _money(cents)
    return {
        "event_id": event_id,
        "occurred_at": OCCURRED_AT,
        "store_id": f"store-{till // TILLS_PER_STORE}",
        "terminal_id": f"till-{till}",
        "sale_id": sale_id,
        "stage": stage,
        "currency": CURRENCY,
        "total": amount,
        "lines": [
            {
                "sku": "HAMMER-1",
                "quantity": "1",
                "unit_price": amount,
                "amount": amount,
                "category": "tools",
            }
        ],
        "tenders": [{"type": "account", "amount": amount}],
        "account_number": account,
        "customer_id": f"C-{account}",
    }


class SaleStream:
    """Sale events over the planned accounts, in the order the tills send them."""

    def __init__(self, accounts: list[AccountPlan], tills: int, seed: int, prefix: str) -> None:
        self._accounts = accounts
        self._tills = tills
        self._rng = random.Random(seed)
        self._prefix = prefix
        self._recent: list[dict[str, Any]] = []
        self._count = 0

    def forget_recent(self) -> None:
        """From now on duplicates, retries and voids name only sales sent after this."""
        self._recent.clear()

    def take(self, count: int) -> list[SaleMessage]:
        return [self._next() for _ in range(count)]

    def _id(self, kind: str) -> str:
        self._count += 1
        return f"{self._prefix}{kind}{self._count}"

    def _next(self) -> SaleMessage:
        draw = self._rng.random()
        if self._recent and draw < DUPLICATE_SHARE:
            return _message(self._rng.choice(self._recent))
        if self._recent and draw < DUPLICATE_SHARE + RETRY_SHARE:
            original = self._rng.choice(self._recent)
            return _message({**original, "event_id": self._id("e")})
        if self._recent and draw < DUPLICATE_SHARE + RETRY_SHARE + VOID_SHARE:
            original = self._rng.choice(self._recent)
            return _message({**original, "event_id": self._id("e"), "stage": "voided"})
        account = self._rng.choice(self._accounts).number
        cents = self._rng.randint(SALE_CENTS_MIN, SALE_CENTS_MAX)
        till = self._rng.randrange(self._tills)
        sale = sale_event(self._id("e"), self._id("s"), till, account, cents, "authorize")
        self._recent.append(sale)
        if len(self._recent) > RECENT_SALES_MAX:
            self._recent.pop(0)
        return _message(sale)


def _message(event: dict[str, Any]) -> SaleMessage:
    return SaleMessage(
        event["event_id"],
        event["account_number"].encode(),
        orjson.dumps(event),
        decided=event["stage"] == "authorize",
    )


def completed_sales(count: int, customers: int, seed: int, prefix: str) -> list[SaleMessage]:
    """Completed sales paid by card, for the CRM (loyalty); keyed by customer (contract)."""
    rng = random.Random(seed)
    messages = []
    for n in range(count):
        customer = f"{prefix}C{rng.randrange(customers):06d}"
        amount = _money(rng.randint(SALE_CENTS_MIN, SALE_CENTS_MAX))
        event = {
            **sale_event(f"{prefix}ce{n}", f"{prefix}cs{n}", n % 64, "-", 100, "completed"),
            "total": amount,
            "lines": [{"sku": "TEA-1", "quantity": "1", "unit_price": amount, "amount": amount}],
            "tenders": [{"type": "card", "amount": amount}],
            "account_number": None,
            "customer_id": customer,
        }
        value = orjson.dumps(event)
        messages.append(SaleMessage(event["event_id"], customer.encode(), value, decided=False))
    return messages
