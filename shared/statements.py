"""`statements.requests.v1` and `statements.sent.v1`."""

from decimal import Decimal
from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from shared.base import Email, Id, Message, Text
from shared.currencies import Currency
from shared.money import Amount
from shared.timestamps import Day, Timestamp

__all__ = [
    "Aging",
    "StatementRequest",
    "StatementSent",
    "StatementStatus",
    "aging_bucket",
    "statement_key",
]

StatementStatus = Literal["sent", "rendered", "failed"]


class StatementRequest(Message):
    """Render the statement for the period ending `period_end`; email it unless `deliver` is
    false. The result is published on `statements.sent.v1` either way."""

    event_id: Id
    account_number: Id
    period_end: Day
    deliver: bool = True
    occurred_at: Timestamp | None = None  # added: when the back office asked


class Aging(Message):
    """What is owed, by days past due. Wire names are the contract's ("1_30"); Python names
    cannot start with a digit, hence `d1_30` and friends. Either spelling is accepted."""

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    current: Amount
    d1_30: Amount = Field(alias="1_30")
    d31_60: Amount = Field(alias="31_60")
    d61_90: Amount = Field(alias="61_90")
    over_90: Amount

    def total(self) -> Decimal:
        return self.current + self.d1_30 + self.d31_60 + self.d61_90 + self.over_90


class StatementSent(Message):
    """The outcome of one statement.

    `sent`: emailed to `delivered_to`. `rendered`: made but not emailed (`deliver: false`, or no
    address). `failed`: not delivered, and `detail` says why.
    """

    event_id: Id
    account_number: Id
    statement_id: Id
    period_start: Day
    period_end: Day
    opening_balance: Amount
    closing_balance: Amount
    amount_due: Amount
    due_date: Day
    aging: Aging
    delivered_to: Email | None = None
    status: StatementStatus
    detail: Text | None = None
    # Added: the request this answers (null for a scheduled statement), the account's currency
    # and when the outcome was known.
    request_event_id: Id | None = None
    currency: Currency | None = None
    occurred_at: Timestamp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.period_start > self.period_end:
            raise ValueError("period_start is after period_end")
        if self.status == "sent" and self.delivered_to is None:
            raise ValueError("a sent statement names delivered_to")
        if self.status == "failed" and self.detail is None:
            raise ValueError("a failed statement says why in detail")
        return self


def statement_key(message: StatementRequest | StatementSent) -> str:
    return message.account_number


def aging_bucket(days_late: int) -> str:
    """The `Aging` field an amount this many days past its due date falls in (its Python name):
    the contract's buckets, current, 1-30, 31-60, 61-90 and over 90 days."""
    if days_late <= 0:
        return "current"
    if days_late <= 30:
        return "d1_30"
    if days_late <= 60:
        return "d31_60"
    if days_late <= 90:
        return "d61_90"
    return "over_90"
