"""The credit check: may this sale be charged to this account?"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from services.credit.domain.accounts import Account, OverrideRules

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
class OverrideRequest:
    """A manager's override on a sale, with where it was made."""

    code: str
    authorised_by: str
    store_id: str
    terminal_id: str


@dataclass(frozen=True)
class Approved:
    amount: Decimal
    over_limit: bool
    override: OverrideRequest | None = None


@dataclass(frozen=True)
class Declined:
    reason: DeclineReason


def decide_authorization(
    account: Account | None,
    currency: str,
    amount: Decimal,
    *,
    overdue: bool = False,
    parent: Account | None = None,
    funded: bool = True,
    override: OverrideRequest | None = None,
) -> Approved | Declined:
    """Checks in a fixed order, so the same request always gets the same reason.

    For a member of a group, `parent` is the account whose credit pays (its status, overdue
    hold and limit decide); `funded` says whether the parent pays for this sale. `overdue` is
    true when the paying account has a charge past its overdue hold. An override passes the
    credit-limit rule only, and only within the paying account's override rules.
    """
    if account is None:
        return Declined("account_not_found")
    if account.status in _STATUS_DECLINES:
        return Declined(_STATUS_DECLINES[account.status])
    if currency != account.currency:
        return Declined("currency_mismatch")
    payer = account
    if account.parent_account_number is not None:
        if parent is None:
            return Declined("account_not_found")
        if parent.status in _STATUS_DECLINES:
            return Declined(_STATUS_DECLINES[parent.status])
        if not funded:
            return Declined("member_not_funded")
        payer = parent
    if overdue:
        return Declined("overdue_hold")
    balance_after = payer.balance + amount
    over_limit = balance_after > payer.credit_limit
    if payer.restrict_credit and over_limit:
        if override is not None and override_allows(
            payer.override_rules, override, balance_after - payer.credit_limit
        ):
            return Approved(amount=amount, over_limit=True, override=override)
        return Declined("insufficient_credit")
    return Approved(amount=amount, over_limit=over_limit)


def override_allows(
    rules: OverrideRules | None, request: OverrideRequest, over_by: Decimal
) -> bool:
    if rules is None:
        return False
    return (
        (rules.stores is None or request.store_id in rules.stores)
        and (rules.terminals is None or request.terminal_id in rules.terminals)
        and (rules.roles is None or request.authorised_by in rules.roles)
        and over_by <= rules.max_over_limit
    )
