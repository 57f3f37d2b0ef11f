"""Opening an account and moving it between statuses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.credit.domain.accounts import (
    Account,
    AccountStatus,
    OverrideRules,
    SettlementFrequency,
)
from services.credit.domain.errors import (
    AccountExists,
    AccountTerminated,
    BalanceNotZero,
    InvalidStatusTransition,
)
from shared.commands import OpenAccount
from shared.terms import OverrideRules as OverrideRulesTerms

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
        overdue_hold_days=command.overdue_hold_days,
        override_rules=override_rules_of(command.override_rules),
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


def change_terms(
    account: Account, changes: dict[str, Any], rating_limits: Mapping[str, Decimal]
) -> None:
    """New credit terms; an absent term is unchanged, a null one cleared. A new credit rating
    without a limit brings the rating's default limit."""
    if account.status == "terminated":
        raise AccountTerminated(f"account {account.number} is terminated")
    for name in _TERMS:
        if name in changes:
            setattr(account, name, changes[name])
    if "override_rules" in changes:
        account.override_rules = override_rules_of(changes["override_rules"])
    rating = changes.get("credit_rating")
    if rating is not None and "credit_limit" not in changes and rating in rating_limits:
        account.credit_limit = rating_limits[rating]


def override_rules_of(terms: OverrideRulesTerms | dict[str, Any] | None) -> OverrideRules | None:
    if terms is None:
        return None
    if isinstance(terms, dict):
        terms = OverrideRulesTerms.model_validate(terms)
    return OverrideRules(
        max_over_limit=terms.max_over_limit,
        stores=frozenset(terms.stores) if terms.stores is not None else None,
        terminals=frozenset(terms.terminals) if terms.terminals is not None else None,
        roles=frozenset(terms.roles) if terms.roles is not None else None,
    )


# The status each command moves to, and the statuses it may start from: approving is only for
# an account waiting for approval, reactivating only for one that was suspended or deactivated.
_STATUS_COMMANDS: dict[str, tuple[AccountStatus, frozenset[AccountStatus]]] = {
    "approve_account": ("active", frozenset({"pending_approval"})),
    "reactivate_account": ("active", frozenset({"suspended", "inactive"})),
    "suspend_account": ("suspended", _ALLOWED_FROM["suspended"]),
    "deactivate_account": ("inactive", _ALLOWED_FROM["inactive"]),
    "terminate_account": ("terminated", _ALLOWED_FROM["terminated"]),
}
STATUS_COMMANDS = frozenset(_STATUS_COMMANDS)


def change_status(account: Account, command_type: str) -> None:
    """Applies a status command (`approve_account`, `suspend_account`, ...)."""
    target, allowed_from = _STATUS_COMMANDS[command_type]
    if account.status != "terminated" and account.status not in allowed_from:
        raise InvalidStatusTransition(
            f"{command_type} does not apply to account {account.number}, which is {account.status}"
        )
    transition(account, target)
