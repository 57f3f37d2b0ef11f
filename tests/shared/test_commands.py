import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.commands import (
    AddMember,
    ChangeCreditTerms,
    OpenAccount,
    RecordPayment,
    RemoveMember,
    command_key,
)
from shared.terms import CategoryFunding
from shared.wire import dumps, load_command

COMMON = {
    "command_id": "c-1",
    "issued_at": "2026-11-22T09:00:00+13:00",
    "issued_by": "back-office:jo",
    "account_number": "ACC-0001",
}
OPEN_ACCOUNT = {
    "type": "open_account",
    "name": "Hammer & Co",
    "currency": "NZD",
    "credit_limit": "1000.00",
    "restrict_credit": True,
    "credit_period_days": 30,
    "settlement_frequency": {"every": 1, "unit": "month", "anchor": "2026-12-01"},
    "statement_email": "accounts@hammer.example",
}
EXAMPLES: dict[str, dict[str, Any]] = {
    "open_account": OPEN_ACCOUNT,
    "approve_account": {"type": "approve_account"},
    "change_credit_terms": {"type": "change_credit_terms", "credit_limit": "2000.00"},
    "suspend_account": {"type": "suspend_account", "reason": "cheque bounced"},
    "reactivate_account": {"type": "reactivate_account"},
    "deactivate_account": {"type": "deactivate_account"},
    "terminate_account": {"type": "terminate_account", "reason": "closed"},
    "record_payment": {
        "type": "record_payment",
        "payment_id": "P-1",
        "amount": "100.00",
        "method": "bank_transfer",
        "allocations": [{"sale_id": "S-1", "amount": "60.00"}],
    },
    "issue_credit_note": {
        "type": "issue_credit_note",
        "credit_note_id": "CN-1",
        "amount": "12.00",
        "reason": "damaged",
        "sale_id": "S-1",
    },
    "post_journal": {
        "type": "post_journal",
        "journal_id": "J-1",
        "amount": "-4.50",
        "memo": "rounding",
    },
    "write_off_account": {"type": "write_off_account"},
    "add_member": {"type": "add_member", "member_account_number": "ACC-0002", "funding": "full"},
    "remove_member": {"type": "remove_member", "member_account_number": "ACC-0002"},
}


def command(type_: str, **changes: Any) -> dict[str, Any]:
    payload = {**COMMON, **EXAMPLES[type_], **changes}
    return {name: value for name, value in payload.items() if value is not ...}


def parse(payload: dict[str, Any]) -> Any:
    return load_command(json.dumps(payload).encode())


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_every_command_type_parses_and_round_trips(type_: str) -> None:
    parsed = parse(command(type_))
    assert parsed.type == type_
    assert load_command(dumps(parsed)) == parsed
    assert command_key(parsed) == "ACC-0001"


@pytest.mark.parametrize("missing", ["command_id", "issued_at", "issued_by", "account_number"])
def test_command_rejected_without_a_common_field(missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        parse(command("approve_account", **{missing: ...}))


def test_command_rejected_when_issued_at_has_no_offset() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        parse(command("approve_account", issued_at="2026-11-22T09:00:00"))


@pytest.mark.parametrize("type_", ["close_account", "", None])
def test_command_of_unknown_type_rejected(type_: str | None) -> None:
    with pytest.raises(ValidationError, match="AccountCommand"):
        parse(command("approve_account", type=type_))


def test_command_without_type_rejected() -> None:
    with pytest.raises(ValidationError):
        parse(command("approve_account", type=...))


def test_unknown_command_fields_ignored() -> None:
    assert parse(command("approve_account", colour="red")).type == "approve_account"


def test_open_account_defaults() -> None:
    opened = parse(command("open_account"))
    assert isinstance(opened, OpenAccount)
    assert opened.opening_balance == Decimal("0")
    assert opened.requires_approval is False
    assert opened.customer_id is None and opened.credit_rating is None


@pytest.mark.parametrize(
    "missing",
    [
        "name",
        "currency",
        "credit_limit",
        "restrict_credit",
        "credit_period_days",
        "settlement_frequency",
        "statement_email",
    ],
)
def test_open_account_rejected_without_a_term(missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        parse(command("open_account", **{missing: ...}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("credit_limit", "-1.00"),
        ("credit_limit", 1000),
        ("credit_period_days", -1),
        ("statement_email", "accounts.hammer.example"),
        ("statement_email", "a b@hammer.example"),
        ("currency", "nzd"),
        ("settlement_frequency", {"every": 0, "unit": "month", "anchor": "2026-12-01"}),
        ("settlement_frequency", {"every": 1, "unit": "year", "anchor": "2026-12-01"}),
        ("settlement_frequency", {"every": 1, "unit": "day", "anchor": "01/12/2026"}),
    ],
)
def test_open_account_rejected_with_an_invalid_term(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        parse(command("open_account", **{field: value}))


def test_open_account_accepts_a_signed_opening_balance() -> None:
    assert parse(command("open_account", opening_balance="-20.00")).opening_balance == -20


def test_change_credit_terms_rejected_when_it_changes_nothing() -> None:
    with pytest.raises(ValidationError, match="at least one term"):
        parse(command("change_credit_terms", credit_limit=...))


def test_change_credit_terms_reports_only_the_terms_given() -> None:
    change = parse(command("change_credit_terms", restrict_credit=False))
    assert isinstance(change, ChangeCreditTerms)
    assert change.changes() == {"credit_limit": Decimal("2000.00"), "restrict_credit": False}


def test_change_credit_terms_null_clears_overdue_hold() -> None:
    change = parse(command("change_credit_terms", credit_limit=..., overdue_hold_days=None))
    assert change.changes() == {"overdue_hold_days": None}


def test_change_credit_terms_rejected_when_it_nulls_a_required_term() -> None:
    with pytest.raises(ValidationError, match="credit_limit cannot be null"):
        parse(command("change_credit_terms", credit_limit=None))


def test_change_credit_terms_rejected_with_overdue_hold_of_zero_days() -> None:
    with pytest.raises(ValidationError, match="overdue_hold_days"):
        parse(command("change_credit_terms", overdue_hold_days=0))


@pytest.mark.parametrize("amount", ["0.00", "-1.00", 100])
def test_payment_rejected_unless_amount_is_a_positive_decimal_string(amount: object) -> None:
    with pytest.raises(ValidationError, match="amount"):
        parse(command("record_payment", amount=amount))


def test_payment_rejected_with_unknown_method() -> None:
    with pytest.raises(ValidationError, match="method"):
        parse(command("record_payment", method="bitcoin"))


def test_payment_rejected_when_allocations_exceed_the_amount() -> None:
    allocations = [{"sale_id": "S-1", "amount": "60.00"}, {"sale_id": "S-2", "amount": "40.01"}]
    with pytest.raises(ValidationError, match="more than the payment"):
        parse(command("record_payment", allocations=allocations))


def test_payment_rejected_when_a_sale_is_allocated_twice() -> None:
    allocations = [{"sale_id": "S-1", "amount": "10.00"}, {"sale_id": "S-1", "amount": "10.00"}]
    with pytest.raises(ValidationError, match="allocated once"):
        parse(command("record_payment", allocations=allocations))


def test_payment_without_allocations_settles_oldest_first() -> None:
    payment = parse(command("record_payment", allocations=...))
    assert isinstance(payment, RecordPayment)
    assert payment.allocations is None


@pytest.mark.parametrize("amount", ["0.00", "-12.00"])
def test_credit_note_rejected_unless_amount_is_positive(amount: str) -> None:
    with pytest.raises(ValidationError, match="amount"):
        parse(command("issue_credit_note", amount=amount))


def test_credit_note_rejected_without_reason() -> None:
    with pytest.raises(ValidationError, match="reason"):
        parse(command("issue_credit_note", reason=...))


def test_journal_rejected_with_zero_amount() -> None:
    with pytest.raises(ValidationError, match="cannot be zero"):
        parse(command("post_journal", amount="0.00"))


def test_journal_rejected_without_memo() -> None:
    with pytest.raises(ValidationError, match="memo"):
        parse(command("post_journal", memo=...))


def test_add_member_funded_for_some_categories() -> None:
    added = parse(command("add_member", funding={"categories": ["tools", "paint"]}))
    assert isinstance(added, AddMember)
    assert added.funding == CategoryFunding(categories=["tools", "paint"])


@pytest.mark.parametrize("funding", [{"categories": []}, "partial", None, {"full": True}])
def test_add_member_rejected_with_invalid_funding(funding: object) -> None:
    with pytest.raises(ValidationError, match="funding"):
        parse(command("add_member", funding=funding))


def test_add_member_rejected_without_funding() -> None:
    with pytest.raises(ValidationError, match="funding"):
        parse(command("add_member", funding=...))


def test_account_cannot_be_its_own_member() -> None:
    with pytest.raises(ValidationError, match="member of itself"):
        parse(command("add_member", member_account_number="ACC-0001"))


def test_remove_member_needs_no_funding() -> None:
    removed = parse(command("remove_member"))
    assert isinstance(removed, RemoveMember)
    assert removed.funding is None
