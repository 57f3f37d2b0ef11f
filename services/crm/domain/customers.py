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
    # None until the customer's first sale puts them in the program's base tier.
    tier: str | None = None
    # Points taken back after they were spent (see domain/points.py).
    points_debt: int = 0


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


def cancel_purchase(
    customer: Customer, amount: Decimal, last_purchase_at: datetime | None, now: datetime
) -> Customer:
    """A voided sale was never a visit: its spend and its visit come off, and the last purchase
    is the latest one still standing."""
    return replace(
        customer,
        lifetime_spend=customer.lifetime_spend - amount,
        visits=max(customer.visits - 1, 0),
        last_purchase_at=last_purchase_at,
        updated_at=now,
    )


def return_purchase(customer: Customer, amount: Decimal, now: datetime) -> Customer:
    """Returned goods come off the spend; the visit still happened."""
    return replace(customer, lifetime_spend=customer.lifetime_spend - amount, updated_at=now)


def withdraw_consent(customer: Customer, source: str, now: datetime) -> Customer:
    """The customer left the marketing audience outside the CRM (Mailchimp's unsubscribe link,
    or an address that bounced): consent is withdrawn until they give it again."""
    if customer.marketing_opt_in is False and customer.opt_in_source == source:
        return customer
    return replace(customer, marketing_opt_in=False, opt_in_source=source, updated_at=now)


def set_tier(customer: Customer, tier: str, now: datetime) -> Customer:
    return replace(customer, tier=tier, updated_at=now)


def set_points_debt(customer: Customer, debt: int) -> Customer:
    return replace(customer, points_debt=debt)
