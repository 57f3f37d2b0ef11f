"""Sale events for CRM tests: one line per category, tenders as given."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.money import format_amount
from tests.support.naming import unique


def sale(
    customer_id: str | None,
    tenders: list[tuple[str, str]],
    *,
    stage: str = "completed",
    lines: list[tuple[str, str]] | None = None,
    occurred_at: str = "2026-11-23T22:00:00+13:00",
    **extra: Any,
) -> dict[str, Any]:
    """`tenders` and `lines` are (type or category, amount) pairs; lines default to one line
    of the whole total."""
    total_text = format_amount(sum((Decimal(a) for _, a in tenders), Decimal("0")))
    lines = lines if lines is not None else [("hardware", total_text)]
    return {
        "event_id": unique("e-"),
        "occurred_at": occurred_at,
        "store_id": "store-1",
        "terminal_id": "till-1",
        "sale_id": unique("S-"),
        "stage": stage,
        "currency": "NZD",
        "total": total_text,
        "lines": [
            {
                "sku": f"SKU-{n}",
                "quantity": "1",
                "unit_price": amount,
                "amount": amount,
                "category": category,
            }
            for n, (category, amount) in enumerate(lines)
        ],
        "tenders": [{"type": kind, "amount": amount} for kind, amount in tenders],
        "customer_id": customer_id,
        **extra,
    }


def void_of(original: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": unique("e-"),
        "occurred_at": original["occurred_at"],
        "store_id": "store-1",
        "terminal_id": "till-1",
        "sale_id": original["sale_id"],
        "stage": "voided",
        "currency": "NZD",
        "customer_id": original["customer_id"],
    }


def return_of(
    original: dict[str, Any], tenders: list[tuple[str, str]], **extra: Any
) -> dict[str, Any]:
    returned = sale(original["customer_id"], tenders, stage="returned", **extra)
    returned["original_sale_id"] = original["sale_id"]
    return returned
