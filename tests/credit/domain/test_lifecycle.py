"""accounts.commands.v1 status rules: opening an account and moving it between statuses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.credit.domain.accounts import AccountStatus, SettlementFrequency
from services.credit.domain.errors import (
    AccountExists,
    AccountTerminated,
    BalanceNotZero,
    InvalidStatusTransition,
)
from services.credit.domain.lifecycle import change_status, change_terms, open_account, transition
from tests.credit.domain.examples import NOW, an_account, an_open_account_command

STATUSES: list[AccountStatus] = [
    "pending_approval",
    "active",
    "suspended",
    "inactive",
    "terminated",
]
NOT_TERMINATED = [s for s in STATUSES if s != "terminated"]

# Every move `transition` allows; the commands narrow it (see the change_status tests below).

ALLOWED: list[tuple[AccountStatus, AccountStatus]] = [
    ("pending_approval", "active"),
    ("suspended", "active"),
    ("inactive", "active"),
    ("active", "suspended"),
    ("inactive", "suspended"),
    ("active", "inactive"),
    ("suspended", "inactive"),
    ("pending_approval", "terminated"),
    ("active", "terminated"),
    ("suspended", "terminated"),
    ("inactive", "terminated"),
]
REFUSED: list[tuple[AccountStatus, AccountStatus]] = [
    (before, after)
    for before in NOT_TERMINATED
    for after in STATUSES
    if (before, after) not in ALLOWED
]


# Opening ----------------------------------------------------------------------------------


def test_new_account_is_active() -> None:
    account = open_account(an_open_account_command(), None, NOW)

    assert account.status == "active"


def test_new_account_that_requires_approval_is_pending_approval() -> None:
    account = open_account(an_open_account_command(requires_approval=True), None, NOW)

    assert account.status == "pending_approval"


def test_new_account_carries_the_terms_of_the_command() -> None:
    command = an_open_account_command(
        currency="AUD",
        credit_limit="250.50",
        restrict_credit=False,
        credit_period_days=20,
        settlement_frequency={"every": 2, "unit": "week", "anchor": "2026-12-04"},
        customer_id="C-77",
        credit_rating="B",
    )

    account = open_account(command, None, NOW)

    assert (account.number, account.currency) == ("ACC-0001", "AUD")
    assert account.credit_limit == Decimal("250.50")
    assert account.restrict_credit is False
    assert account.credit_period_days == 20
    assert account.settlement == SettlementFrequency(2, "week", date(2026, 12, 4))
    assert (account.customer_id, account.credit_rating) == ("C-77", "B")
    assert account.opened_at == NOW


def test_new_account_owes_nothing_until_its_opening_balance_is_posted() -> None:
    # The opening balance is a ledger entry of its own (kind opening_balance), so the balance
    # stays the sum of the entries.
    account = open_account(an_open_account_command(opening_balance="75.00"), None, NOW)

    assert account.balance == Decimal("0")


def test_opening_an_existing_account_is_refused_account_exists() -> None:
    existing = an_account(number="ACC-0001")

    with pytest.raises(AccountExists) as refusal:
        open_account(an_open_account_command(account_number="ACC-0001"), existing, NOW)

    assert refusal.value.reason == "account_exists"


def test_opening_an_existing_terminated_account_is_refused_account_exists() -> None:
    existing = an_account(number="ACC-0001", status="terminated")

    with pytest.raises(AccountExists):
        open_account(an_open_account_command(account_number="ACC-0001"), existing, NOW)


# Moving between statuses -----------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), ALLOWED)
def test_allowed_transition_moves_the_account(before: AccountStatus, after: AccountStatus) -> None:
    account = an_account(status=before, balance="0.00")

    transition(account, after)

    assert account.status == after


@pytest.mark.parametrize(("before", "after"), REFUSED)
def test_refused_transition_is_invalid_status_transition_and_leaves_the_status(
    before: AccountStatus, after: AccountStatus
) -> None:
    account = an_account(status=before, balance="0.00")

    with pytest.raises(InvalidStatusTransition) as refusal:
        transition(account, after)

    assert refusal.value.reason == "invalid_status_transition"
    assert account.status == before


def test_approval_moves_a_pending_account_to_active() -> None:
    account = an_account(status="pending_approval")

    transition(account, "active")

    assert account.status == "active"


def test_approving_an_active_account_is_refused() -> None:
    account = an_account(status="active")

    with pytest.raises(InvalidStatusTransition):
        transition(account, "active")


@pytest.mark.parametrize("before", NOT_TERMINATED)
def test_nothing_returns_an_account_to_pending_approval(before: AccountStatus) -> None:
    account = an_account(status=before)

    with pytest.raises(InvalidStatusTransition):
        transition(account, "pending_approval")


@pytest.mark.parametrize("balance", ["0.01", "-0.01", "0.0001", "1250.00"])
@pytest.mark.parametrize("before", NOT_TERMINATED)
def test_terminate_only_at_zero_balance(before: AccountStatus, balance: str) -> None:
    account = an_account(status=before, balance=balance)

    with pytest.raises(BalanceNotZero) as refusal:
        transition(account, "terminated")

    assert refusal.value.reason == "balance_not_zero"
    assert account.status == before


@pytest.mark.parametrize("balance", ["0", "0.00", "-0.0000"])
def test_terminate_at_zero_balance_however_written(balance: str) -> None:
    account = an_account(status="active", balance=balance)

    transition(account, "terminated")

    assert account.status == "terminated"


@pytest.mark.parametrize("after", STATUSES)
def test_nothing_moves_a_terminated_account(after: AccountStatus) -> None:
    account = an_account(status="terminated", balance="0.00")

    with pytest.raises(AccountTerminated) as refusal:
        transition(account, after)

    assert refusal.value.reason == "account_terminated"
    assert account.status == "terminated"


def test_terminated_account_credit_terms_cannot_change() -> None:
    account = an_account(status="terminated", credit_limit="100.00")

    with pytest.raises(AccountTerminated) as refusal:
        change_terms(account, {"credit_limit": Decimal("500.00")}, {})

    assert refusal.value.reason == "account_terminated"
    assert account.credit_limit == Decimal("100.00")


@pytest.mark.parametrize("status", ["active", "suspended", "inactive"])
def test_approve_applies_only_to_an_account_waiting_for_approval(status: AccountStatus) -> None:
    account = an_account(status=status, balance="0.00")
    with pytest.raises(InvalidStatusTransition) as refused:
        change_status(account, "approve_account")
    assert refused.value.reason == "invalid_status_transition"
    assert account.status == status


def test_reactivate_does_not_approve_a_pending_account() -> None:
    account = an_account(status="pending_approval", balance="0.00")
    with pytest.raises(InvalidStatusTransition):
        change_status(account, "reactivate_account")
    assert account.status == "pending_approval"


@pytest.mark.parametrize(
    ("command", "start", "end"),
    [
        ("approve_account", "pending_approval", "active"),
        ("reactivate_account", "suspended", "active"),
        ("reactivate_account", "inactive", "active"),
        ("suspend_account", "active", "suspended"),
        ("deactivate_account", "suspended", "inactive"),
        ("terminate_account", "inactive", "terminated"),
    ],
)
def test_status_commands_move_the_account(
    command: str, start: AccountStatus, end: AccountStatus
) -> None:
    account = an_account(status=start, balance="0.00")
    change_status(account, command)
    assert account.status == end


def test_status_commands_leave_a_terminated_account_alone() -> None:
    account = an_account(status="terminated", balance="0.00")
    with pytest.raises(AccountTerminated):
        change_status(account, "reactivate_account")
