"""The credit check: may this sale be charged to this account?"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from services.credit.domain.accounts import Account

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

_STATUS_DECLINES: dict[str, DeclineReason] = {
    "pending_approval": "account_pending_approval",
    "inactive": "account_inactive",
    "suspended": "account_suspended",
    "terminated": "account_terminated",
}


@dataclass(frozen=True)
class Approved:
    amount: Decimal
    over_limit: bool


@dataclass(frozen=True)
class Declined:
    reason: DeclineReason


def decide_authorization(
    account: Account | None, currency: str, amount: Decimal, *, overdue: bool = False
) -> Approved | Declined:
    """Checks in a fixed order, so the same request always gets the same reason.

    `overdue` is true when the account has a charge past its overdue hold (see aging).
    """
    if account is None:
        return Declined("account_not_found")
    if account.status in _STATUS_DECLINES:
        return Declined(_STATUS_DECLINES[account.status])
    if currency != account.currency:
        return Declined("currency_mismatch")
    if overdue:
        return Declined("overdue_hold")
    balance_after = account.balance + amount
    if account.restrict_credit and balance_after > account.credit_limit:
        return Declined("insufficient_credit")
    return Approved(amount=amount, over_limit=balance_after > account.credit_limit)
