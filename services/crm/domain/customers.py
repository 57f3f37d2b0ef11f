"""A CRM customer: details, consent, and what they have bought (cash sales too)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# The fields an upsert may set; the rest are kept by the CRM itself.
UPSERT_FIELDS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "mobile",
        "birthday",
        "tags",
        "marketing_opt_in",
        "opt_in_source",
        "account_number",
    }
)


@dataclass(frozen=True)
class Customer:
    customer_id: str
    updated_at: datetime
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    mobile: str | None = None
    birthday: date | None = None
    tags: tuple[str, ...] = field(default=())
    marketing_opt_in: bool | None = None
    opt_in_source: str | None = None
    account_number: str | None = None
    lifetime_spend: Decimal = Decimal("0")
    visits: int = 0
    last_purchase_at: datetime | None = None


def upsert(
    existing: Customer | None, customer_id: str, changes: dict[str, Any], now: datetime
) -> Customer:
    """The contract's upsert: an absent field keeps its value, `null` clears it."""
    base = existing or Customer(customer_id=customer_id, updated_at=now)
    values = {name: value for name, value in changes.items() if name in UPSERT_FIELDS}
    if "tags" in values:
        values["tags"] = tuple(dict.fromkeys(values["tags"] or ()))
    return replace(base, **values, updated_at=now)


def link_account(
    existing: Customer | None, customer_id: str, account_number: str, now: datetime
) -> Customer:
    """A customer named by a new credit account is both: an account and a CRM customer."""
    base = existing or Customer(customer_id=customer_id, updated_at=now)
    return replace(base, account_number=account_number, updated_at=now)


def record_purchase(
    existing: Customer | None,
    customer_id: str,
    amount: Decimal,
    purchased_at: datetime,
    now: datetime,
) -> Customer:
    base = existing or Customer(customer_id=customer_id, updated_at=now)
    last = base.last_purchase_at
    return replace(
        base,
        lifetime_spend=base.lifetime_spend + amount,
        visits=base.visits + 1,
        last_purchase_at=purchased_at if last is None or purchased_at > last else last,
        updated_at=now,
    )
