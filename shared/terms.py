"""An account's terms: set by `open_account`, reported by `account_opened`, changed later."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from shared.base import Email, Id, Message, Name
from shared.currencies import Currency
from shared.money import Amount, NonNegativeAmount
from shared.timestamps import Day

__all__ = [
    "DAYS_MAX",
    "SETTLEMENT_EVERY_MAX",
    "AccountStatus",
    "AccountTerms",
    "CategoryFunding",
    "CreditPeriodDays",
    "Funding",
    "OverdueHoldDays",
    "OverrideRules",
    "SettlementFrequency",
]

# Ten years: far beyond any real credit term, and small enough that date arithmetic on
# "due date + N days" can never overflow and crash a worker on one bad command.
DAYS_MAX = 3650
SETTLEMENT_EVERY_MAX = 366

CreditPeriodDays = Annotated[int, Field(ge=0, le=DAYS_MAX)]
OverdueHoldDays = Annotated[int, Field(ge=1, le=DAYS_MAX)]

AccountStatus = Literal["pending_approval", "active", "suspended", "inactive", "terminated"]
"""`write_off_account` closes an account: it ends `terminated`, the contract's closed state."""


class SettlementFrequency(Message):
    """Statement periods: every `every` `unit`s counted from `anchor` (a period end)."""

    every: int = Field(ge=1, le=SETTLEMENT_EVERY_MAX)
    unit: Literal["day", "week", "month"]
    anchor: Day


class CategoryFunding(Message):
    """A member is funded only for sale lines in these categories."""

    categories: list[Name] = Field(min_length=1, max_length=1000)


Funding = Literal["full"] | CategoryFunding
"""How a group's parent funds a member: every sale (`"full"`) or only some categories."""


class OverrideRules(Message):
    """Who may let an `authorize` past the credit limit with a manager's override, and by how
    much. A list left out (null) allows any store, terminal or role; an empty list allows none.
    `roles` are matched against the override's `authorised_by`."""

    stores: list[Id] | None = Field(default=None, max_length=1000)
    terminals: list[Id] | None = Field(default=None, max_length=1000)
    roles: list[Name] | None = Field(default=None, max_length=100)
    max_over_limit: NonNegativeAmount


class AccountTerms(Message):
    """The fields `open_account` carries; `account_opened` repeats them as the full terms."""

    name: Name
    currency: Currency
    credit_limit: NonNegativeAmount
    restrict_credit: bool
    credit_period_days: CreditPeriodDays
    settlement_frequency: SettlementFrequency
    statement_email: Email
    customer_id: Id | None = None
    opening_balance: Amount = Decimal("0")
    requires_approval: bool = False
    credit_rating: Name | None = None
    # Not in the contract's open_account row, but change_credit_terms can set it, so an account
    # may as well be opened with it.
    overdue_hold_days: OverdueHoldDays | None = None
    # Added: without rules no override is honoured (the contract: "when the account's override
    # rules allow it").
    override_rules: OverrideRules | None = None
