"""An account customer's account: status, terms and what it owes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

AccountStatus = Literal["pending_approval", "active", "suspended", "inactive", "terminated"]
FrequencyUnit = Literal["day", "week", "month"]


@dataclass(frozen=True)
class SettlementFrequency:
    every: int
    unit: FrequencyUnit
    anchor: date


@dataclass(frozen=True)
class OverrideRules:
    """Who may take a sale past the credit limit, and by how much; None allows any."""

    max_over_limit: Decimal
    stores: frozenset[str] | None = None
    terminals: frozenset[str] | None = None
    roles: frozenset[str] | None = None


# "full", or the categories a group's parent pays for.
Funding = Literal["full"] | frozenset[str]


@dataclass
class Account:
    number: str
    name: str
    currency: str
    status: AccountStatus
    credit_limit: Decimal
    restrict_credit: bool
    credit_period_days: int
    settlement: SettlementFrequency
    statement_email: str
    customer_id: str | None
    credit_rating: str | None
    overdue_hold_days: int | None
    opened_at: datetime
    # What the customer owes: always the sum of the account's entries.
    balance: Decimal = Decimal("0")
    override_rules: OverrideRules | None = None
    parent_account_number: str | None = None
    funding: Funding | None = None

    @property
    def available_credit(self) -> Decimal:
        return self.credit_limit - self.balance

    @property
    def over_limit(self) -> bool:
        return self.balance > self.credit_limit
