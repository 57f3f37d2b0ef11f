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

    @property
    def available_credit(self) -> Decimal:
        return self.credit_limit - self.balance

    @property
    def over_limit(self) -> bool:
        return self.balance > self.credit_limit
