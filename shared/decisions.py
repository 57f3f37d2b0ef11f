"""`credit.decisions.v1`: the credit service's answer to an `authorize`."""

from collections.abc import Mapping
from datetime import datetime
from typing import Literal, Self, get_args

from pydantic import TypeAdapter, ValidationError, model_validator

from shared.base import Id, Message
from shared.currencies import Currency
from shared.money import Amount, NonNegativeAmount
from shared.timestamps import Timestamp

__all__ = [
    "DECLINE_REASONS",
    "CreditDecision",
    "DeclineReason",
    "Verdict",
    "decision_key",
    "invalid_request_decision",
]

Verdict = Literal["approved", "declined"]
DeclineReason = Literal[
    "insufficient_credit",
    "account_not_found",
    "account_pending_approval",
    "account_inactive",
    "account_suspended",
    "account_terminated",
    "overdue_hold",
    "currency_mismatch",
    "member_not_funded",
    "invalid_request",
]
DECLINE_REASONS: tuple[DeclineReason, ...] = get_args(DeclineReason)

# What may be unknown when the decline says so: an invalid request may lack any of these; an
# unknown account has no balance or limit. Every other decision carries all of them.
_UNKNOWN_WHEN_INVALID = (
    "sale_id",
    "store_id",
    "terminal_id",
    "account_number",
    "currency",
    "amount",
    "balance",
    "credit_limit",
    "available_credit",
)
_UNKNOWN_WHEN_NO_ACCOUNT = ("balance", "credit_limit", "available_credit")


class CreditDecision(Message):
    """Approved or declined, with the account's position after the decision.

    `balance` is what the account owes after this decision (positive: the customer owes);
    `available_credit` is `credit_limit - balance` and may be negative. `over_limit` is true when
    the balance is above the limit (an unrestricted account or a manager override).
    """

    event_id: Id
    request_event_id: Id
    sale_id: Id | None = None
    store_id: Id | None = None
    terminal_id: Id | None = None
    account_number: Id | None = None
    decision: Verdict
    reason: DeclineReason | None = None
    amount: NonNegativeAmount | None = None
    currency: Currency | None = None
    balance: Amount | None = None
    credit_limit: NonNegativeAmount | None = None
    available_credit: Amount | None = None
    over_limit: bool = False
    decided_at: Timestamp

    @model_validator(mode="after")
    def _reason_and_known_fields(self) -> Self:
        if (self.decision == "approved") != (self.reason is None):
            raise ValueError("reason is null exactly when the decision is approved")
        if self.reason == "invalid_request":
            may_be_unknown: tuple[str, ...] = _UNKNOWN_WHEN_INVALID
        elif self.reason == "account_not_found":
            may_be_unknown = _UNKNOWN_WHEN_NO_ACCOUNT
        else:
            may_be_unknown = ()
        missing = [
            name
            for name in _UNKNOWN_WHEN_INVALID
            if getattr(self, name) is None and name not in may_be_unknown
        ]
        if missing:
            raise ValueError(f"{', '.join(missing)} required for this decision")
        if (
            self.balance is not None
            and self.credit_limit is not None
            and self.available_credit != self.credit_limit - self.balance
        ):
            raise ValueError("available_credit must equal credit_limit - balance")
        return self


def decision_key(decision: CreditDecision) -> str:
    """The Kafka key: `account_number`; an invalid request may lack it, then the sale's ids."""
    return decision.account_number or decision.sale_id or decision.request_event_id


_ID = TypeAdapter[str](Id)
_CURRENCY = TypeAdapter[str](Currency)


def invalid_request_decision(
    request: Mapping[str, str], event_id: str, decided_at: datetime
) -> CreditDecision | None:
    """An `invalid_request` decline addressed with whatever the broken request let us read.

    `request` comes from `wire.best_effort_fields`; values that are not valid ids (or, for
    `currency`, codes) are dropped rather than echoed. Returns None when the request has no
    usable `event_id`: with nothing to correlate, the till cannot use a reply.
    """
    known = {
        name: value
        for name in ("event_id", "sale_id", "store_id", "terminal_id", "account_number")
        if (value := _valid(_ID, request.get(name))) is not None
    }
    if "event_id" not in known:
        return None
    return CreditDecision(
        event_id=event_id,
        request_event_id=known["event_id"],
        sale_id=known.get("sale_id"),
        store_id=known.get("store_id"),
        terminal_id=known.get("terminal_id"),
        account_number=known.get("account_number"),
        decision="declined",
        reason="invalid_request",
        amount=None,
        currency=_valid(_CURRENCY, request.get("currency")),
        balance=None,
        credit_limit=None,
        available_credit=None,
        decided_at=decided_at,
    )


def _valid(adapter: TypeAdapter[str], value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None
