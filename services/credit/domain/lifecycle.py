"""Opening an account and moving it between statuses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.credit.domain.accounts import Account, AccountStatus, SettlementFrequency
from services.credit.domain.errors import (
    AccountExists,
    AccountTerminated,
    BalanceNotZero,
    InvalidStatusTransition,
)
from shared.commands import OpenAccount

# Which statuses each target may be reached from; terminated is final.
_ALLOWED_FROM: dict[AccountStatus, frozenset[AccountStatus]] = {
    "active": frozenset({"pending_approval", "suspended", "inactive"}),
    "suspended": frozenset({"active", "inactive"}),
    "inactive": frozenset({"active", "suspended"}),
    "terminated": frozenset({"pending_approval", "active", "suspended", "inactive"}),
    "pending_approval": frozenset(),
}


def open_account(command: OpenAccount, existing: Account | None, now: datetime) -> Account:
    if existing is not None:
        raise AccountExists(f"account {command.account_number} is already open")
    frequency = command.settlement_frequency
    return Account(
        number=command.account_number,
        name=command.name,
        currency=command.currency,
        status="pending_approval" if command.requires_approval else "active",
        credit_limit=command.credit_limit,
        restrict_credit=command.restrict_credit,
        credit_period_days=command.credit_period_days,
        settlement=SettlementFrequency(frequency.every, frequency.unit, frequency.anchor),
        statement_email=command.statement_email,
        customer_id=command.customer_id,
        credit_rating=command.credit_rating,
        overdue_hold_days=getattr(command, "overdue_hold_days", None),
        opened_at=now,
    )


def transition(account: Account, target: AccountStatus) -> None:
    if account.status == "terminated":
        raise AccountTerminated(f"account {account.number} is terminated")
    if account.status not in _ALLOWED_FROM[target]:
        raise InvalidStatusTransition(
            f"account {account.number} cannot become {target} from {account.status}"
        )
    if target == "terminated" and account.balance != 0:
        raise BalanceNotZero(
            f"account {account.number} owes {account.balance}; only a zero balance terminates"
        )
    account.status = target


# The terms change_credit_terms may set; each maps to the account attribute of that name.
_TERMS = (
    "credit_limit",
    "restrict_credit",
    "credit_period_days",
    "credit_rating",
    "overdue_hold_days",
)


def change_terms(account: Account, changes: dict[str, Any]) -> None:
    """New credit terms; an absent term is unchanged, a null one cleared."""
    if account.status == "terminated":
        raise AccountTerminated(f"account {account.number} is terminated")
    for name in _TERMS:
        if name in changes:
            setattr(account, name, changes[name])
