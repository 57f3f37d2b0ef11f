import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.account_events import (
    REJECT_REASONS,
    AccountChanged,
    AccountOpened,
    CommandRejected,
    EntryPosted,
    account_event_key,
)
from shared.wire import dumps, load_account_event

COMMON = {"event_id": "ev-1", "occurred_at": "2026-11-22T10:15:00+13:00", "account_number": "A-1"}
OPENED = {
    **COMMON,
    "type": "account_opened",
    "status": "active",
    "name": "Hammer & Co",
    "currency": "NZD",
    "credit_limit": "1000.00",
    "restrict_credit": True,
    "credit_period_days": 30,
    "settlement_frequency": {"every": 1, "unit": "month", "anchor": "2026-12-01"},
    "statement_email": "accounts@hammer.example",
    "opening_balance": "0.00",
    "requires_approval": False,
    "credit_rating": None,
    "customer_id": None,
    "command_id": "c-1",
}
ENTRY = {
    "entry_id": "en-1",
    "kind": "charge",
    "amount": "125.50",
    "currency": "NZD",
    "balance_after": "425.50",
    "reference": "S-100045",
    "due_date": "2026-12-20",
    "posted_at": "2026-11-22T10:15:00.041+13:00",
    "forced": False,
}


def parse(payload: dict[str, Any]) -> Any:
    return load_account_event(json.dumps(payload).encode())


def posted(**entry: Any) -> dict[str, Any]:
    return {**COMMON, "type": "entry_posted", "entry": {**ENTRY, **entry}}


def test_account_opened_carries_the_full_terms_and_status() -> None:
    opened = parse(OPENED)
    assert isinstance(opened, AccountOpened)
    assert opened.status == "active" and opened.credit_limit == Decimal("1000")
    assert load_account_event(dumps(opened)) == opened


def test_account_opened_rejected_with_unknown_status() -> None:
    with pytest.raises(ValidationError, match="status"):
        parse({**OPENED, "status": "closed"})


def test_account_changed_lists_only_what_changed() -> None:
    changed = parse({**COMMON, "type": "account_changed", "status": "suspended", "reason": "late"})
    assert isinstance(changed, AccountChanged)
    assert changed.changes() == {"status": "suspended"}


def test_account_changed_keeps_absent_fields_absent_on_the_wire() -> None:
    changed = parse({**COMMON, "type": "account_changed", "overdue_hold_days": None})
    wire = json.loads(dumps(changed))
    assert wire["overdue_hold_days"] is None
    assert "credit_limit" not in wire
    assert load_account_event(dumps(changed)) == changed


def test_account_changed_rejected_when_nothing_changed() -> None:
    with pytest.raises(ValidationError, match="must change something"):
        parse({**COMMON, "type": "account_changed", "reason": "none"})


def test_account_changed_rejected_when_status_is_null() -> None:
    with pytest.raises(ValidationError, match="status cannot be null"):
        parse({**COMMON, "type": "account_changed", "status": None})


def test_membership_is_a_change_to_the_member_account() -> None:
    joined = parse(
        {**COMMON, "type": "account_changed", "parent_account_number": "G-1", "funding": "full"}
    )
    assert joined.changes() == {"parent_account_number": "G-1", "funding": "full"}
    left = parse(
        {**COMMON, "type": "account_changed", "parent_account_number": None, "funding": None}
    )
    assert left.changes() == {"parent_account_number": None, "funding": None}


def test_membership_rejected_without_funding() -> None:
    with pytest.raises(ValidationError, match="funding"):
        parse({**COMMON, "type": "account_changed", "parent_account_number": "G-1"})


def test_entry_posted_money_serialised_with_two_places() -> None:
    event = parse(posted(amount="125.5", balance_after="1000"))
    assert isinstance(event, EntryPosted)
    wire = json.loads(dumps(event))["entry"]
    assert (wire["amount"], wire["balance_after"]) == ("125.50", "1000.00")


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        ("charge", "10.00"),
        ("charge_reversal", "-10.00"),
        ("payment", "-10.00"),
        ("credit_note", "-10.00"),
        ("journal", "10.00"),
        ("journal", "-10.00"),
        ("write_off", "-10.00"),
        ("write_off", "10.00"),
        ("opening_balance", "0.00"),
        ("opening_balance", "-10.00"),
    ],
)
def test_entry_amount_signed_as_its_kind_requires(kind: str, amount: str) -> None:
    assert parse(posted(kind=kind, amount=amount)).entry.amount == Decimal(amount)


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        ("charge", "-10.00"),
        ("charge", "0.00"),
        ("charge_reversal", "10.00"),
        ("payment", "10.00"),
        ("credit_note", "0.00"),
        ("journal", "0.00"),
        ("write_off", "0.00"),
    ],
)
def test_entry_rejected_when_its_sign_contradicts_its_kind(kind: str, amount: str) -> None:
    with pytest.raises(ValidationError, match="entry is"):
        parse(posted(kind=kind, amount=amount))


def test_forced_entry_must_be_a_charge() -> None:
    assert parse(posted(forced=True)).entry.forced is True
    with pytest.raises(ValidationError, match="only a charge can be forced"):
        parse(posted(kind="payment", amount="-1.00", forced=True))


def test_entry_rejected_when_posted_at_has_no_offset() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        parse(posted(posted_at="2026-11-22T10:15:00"))


def test_command_rejected_accepts_reason_codes_added_later() -> None:
    rejected = parse(
        {
            **COMMON,
            "type": "command_rejected",
            "command_id": "c-9",
            "reason": "some_future_reason",
            "detail": "why",
        }
    )
    assert isinstance(rejected, CommandRejected)
    assert rejected.reason not in REJECT_REASONS


def test_command_rejected_reason_must_be_a_code() -> None:
    with pytest.raises(ValidationError, match="reason"):
        parse(
            {
                **COMMON,
                "type": "command_rejected",
                "command_id": "c",
                "reason": "No!",
                "detail": "x",
            }
        )


def test_rejection_of_a_command_without_account_is_keyed_by_command_id() -> None:
    rejected = CommandRejected.model_validate(
        {
            "event_id": "ev-2",
            "occurred_at": "2026-11-22T10:15:00Z",
            "command_id": "c-9",
            "reason": "invalid_command",
            "detail": "account_number: Field required",
        }
    )
    assert account_event_key(rejected) == "c-9"


def test_account_event_key_is_the_account_number() -> None:
    assert account_event_key(parse(OPENED)) == "A-1"


def test_account_event_of_unknown_type_rejected() -> None:
    with pytest.raises(ValidationError, match="AccountEvent"):
        parse({**COMMON, "type": "account_deleted"})
