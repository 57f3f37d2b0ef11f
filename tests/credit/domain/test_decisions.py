"""credit.decisions.v1: may this sale be charged to this account, and if not, why not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.credit.domain.accounts import Account, AccountStatus, OverrideRules
from services.credit.domain.decisions import (
    Approved,
    Declined,
    DeclineReason,
    OverrideRequest,
    decide_authorization,
)
from tests.credit.domain.examples import an_account


def test_restricted_account_approved_exactly_at_the_limit() -> None:
    account = an_account(credit_limit="1000.00", balance="874.50", restrict_credit=True)

    outcome = decide_authorization(account, "NZD", Decimal("125.50"))

    assert outcome == Approved(amount=Decimal("125.50"), over_limit=False)


def test_restricted_account_declined_one_cent_over_the_limit() -> None:
    account = an_account(credit_limit="1000.00", balance="874.50", restrict_credit=True)

    outcome = decide_authorization(account, "NZD", Decimal("125.51"))

    assert outcome == Declined("insufficient_credit")


def test_restricted_account_declined_one_ten_thousandth_over_the_limit() -> None:
    account = an_account(credit_limit="1000.00", balance="874.5", restrict_credit=True)

    outcome = decide_authorization(account, "NZD", Decimal("125.5001"))

    assert outcome == Declined("insufficient_credit")


def test_restricted_account_already_over_its_limit_is_declined_any_charge() -> None:
    account = an_account(credit_limit="100.00", balance="150.00", restrict_credit=True)

    assert decide_authorization(account, "NZD", Decimal("0.01")) == Declined("insufficient_credit")


def test_unrestricted_account_approved_over_the_limit_and_flagged_over_limit() -> None:
    account = an_account(credit_limit="1000.00", balance="874.50", restrict_credit=False)

    outcome = decide_authorization(account, "NZD", Decimal("500.00"))

    assert outcome == Approved(amount=Decimal("500.00"), over_limit=True)


def test_unrestricted_account_exactly_at_the_limit_is_not_over_limit() -> None:
    account = an_account(credit_limit="1000.00", balance="874.50", restrict_credit=False)

    outcome = decide_authorization(account, "NZD", Decimal("125.50"))

    assert outcome == Approved(amount=Decimal("125.50"), over_limit=False)


def test_a_decision_does_not_move_the_balance() -> None:
    account = an_account(balance="10.00")

    decide_authorization(account, "NZD", Decimal("25.00"))

    assert account.balance == Decimal("10.00")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("pending_approval", "account_pending_approval"),
        ("suspended", "account_suspended"),
        ("inactive", "account_inactive"),
        ("terminated", "account_terminated"),
    ],
)
def test_each_non_active_status_declines_with_its_own_reason(
    status: AccountStatus, reason: DeclineReason
) -> None:
    account = an_account(status=status, credit_limit="1000.00", balance="0.00")

    assert decide_authorization(account, "NZD", Decimal("1.00")) == Declined(reason)


def test_unknown_account_declined_account_not_found() -> None:
    assert decide_authorization(None, "NZD", Decimal("1.00")) == Declined("account_not_found")


def test_sale_in_another_currency_declined_currency_mismatch() -> None:
    account = an_account(currency="NZD")

    assert decide_authorization(account, "AUD", Decimal("1.00")) == Declined("currency_mismatch")


# The checks run in a fixed order (account, status, currency, limit), so the same request
# always gets the same reason however many rules it breaks.


def test_terminated_account_in_the_wrong_currency_declined_account_terminated() -> None:
    account = an_account(status="terminated", currency="NZD")

    assert decide_authorization(account, "AUD", Decimal("1.00")) == Declined("account_terminated")


def test_suspended_restricted_account_over_the_limit_declined_account_suspended() -> None:
    account = an_account(
        status="suspended", restrict_credit=True, credit_limit="100.00", balance="90.00"
    )

    assert decide_authorization(account, "NZD", Decimal("50.00")) == Declined("account_suspended")


def test_pending_account_in_the_wrong_currency_over_the_limit_declined_pending_approval() -> None:
    account = an_account(
        status="pending_approval", restrict_credit=True, credit_limit="100.00", balance="90.00"
    )

    assert decide_authorization(account, "AUD", Decimal("50.00")) == Declined(
        "account_pending_approval"
    )


def test_wrong_currency_over_the_limit_declined_currency_mismatch() -> None:
    account = an_account(restrict_credit=True, credit_limit="100.00", balance="90.00")

    assert decide_authorization(account, "AUD", Decimal("50.00")) == Declined("currency_mismatch")


def test_overdue_hold_comes_before_the_credit_limit() -> None:
    account = an_account(restrict_credit=True, credit_limit="100.00", balance="90.00")

    outcome = decide_authorization(account, "NZD", Decimal("50.00"), overdue=True)

    assert outcome == Declined("overdue_hold")


def test_suspended_account_on_overdue_hold_declined_account_suspended() -> None:
    account = an_account(status="suspended")

    outcome = decide_authorization(account, "NZD", Decimal("1.00"), overdue=True)

    assert outcome == Declined("account_suspended")


# A manager's override passes the credit-limit rule only, within the account's override rules.

OVERRIDE = OverrideRequest(
    code="MGR-1", authorised_by="manager", store_id="store-1", terminal_id="till-2"
)


def an_account_with_override_rules(status: AccountStatus = "active") -> Account:
    account = an_account(
        status=status, restrict_credit=True, credit_limit="100.00", balance="90.00"
    )
    account.override_rules = OverrideRules(max_over_limit=Decimal("50.00"))
    return account


def test_override_approves_a_restricted_account_over_its_limit_within_the_rules() -> None:
    account = an_account_with_override_rules()

    outcome = decide_authorization(account, "NZD", Decimal("60.00"), override=OVERRIDE)

    assert outcome == Approved(amount=Decimal("60.00"), over_limit=True, override=OVERRIDE)


def test_override_beyond_the_rules_allowance_declined_insufficient_credit() -> None:
    account = an_account_with_override_rules()

    outcome = decide_authorization(account, "NZD", Decimal("60.01"), override=OVERRIDE)

    assert outcome == Declined("insufficient_credit")


def test_override_on_an_account_without_override_rules_declined_insufficient_credit() -> None:
    account = an_account(restrict_credit=True, credit_limit="100.00", balance="90.00")

    outcome = decide_authorization(account, "NZD", Decimal("20.00"), override=OVERRIDE)

    assert outcome == Declined("insufficient_credit")


@pytest.mark.parametrize(
    ("status", "currency", "reason"),
    [
        ("terminated", "NZD", "account_terminated"),
        ("suspended", "NZD", "account_suspended"),
        ("active", "AUD", "currency_mismatch"),
    ],
)
def test_override_never_passes_a_rule_other_than_the_credit_limit(
    status: AccountStatus, currency: str, reason: DeclineReason
) -> None:
    account = an_account_with_override_rules(status=status)

    outcome = decide_authorization(account, currency, Decimal("20.00"), override=OVERRIDE)

    assert outcome == Declined(reason)


def test_override_is_not_needed_within_the_limit() -> None:
    account = an_account_with_override_rules()

    outcome = decide_authorization(account, "NZD", Decimal("10.00"), override=OVERRIDE)

    assert outcome == Approved(amount=Decimal("10.00"), over_limit=False)
