import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.decisions import (
    DECLINE_REASONS,
    CreditDecision,
    decision_key,
    invalid_request_decision,
)
from shared.wire import best_effort_fields, dumps, load_credit_decision

CONTRACT_EXAMPLE = """{
  "event_id": "d-91aa", "request_event_id": "e-7d1c", "sale_id": "S-100045",
  "store_id": "store-1", "terminal_id": "till-2", "account_number": "ACC-0001",
  "decision": "approved", "reason": null,
  "amount": "125.50", "currency": "NZD",
  "balance": "425.50", "credit_limit": "1000.00", "available_credit": "574.50",
  "over_limit": false, "decided_at": "2026-11-22T10:15:00.041+13:00"
}"""
NOW = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)


def decision(**changes: Any) -> CreditDecision:
    payload: dict[str, Any] = json.loads(CONTRACT_EXAMPLE)
    payload.update(changes)
    return load_credit_decision(json.dumps(payload).encode())


def test_contract_example_parses_and_serialises_the_same_money() -> None:
    parsed = load_credit_decision(CONTRACT_EXAMPLE.encode())
    wire = json.loads(dumps(parsed))
    original = json.loads(CONTRACT_EXAMPLE)
    for name in ("amount", "balance", "credit_limit", "available_credit", "reason", "currency"):
        assert wire[name] == original[name]
    assert wire["decided_at"].endswith("+13:00")


def test_outgoing_money_has_two_places_at_least() -> None:
    made = CreditDecision(
        event_id="d-1",
        request_event_id="e-1",
        sale_id="S-1",
        store_id="store-1",
        terminal_id="till-2",
        account_number="ACC-0001",
        decision="approved",
        amount=Decimal("125.5"),
        currency="NZD",
        balance=Decimal("425.5"),
        credit_limit=Decimal("1000"),
        available_credit=Decimal("574.5"),
        decided_at=NOW,
    )
    wire = json.loads(dumps(made))
    assert (wire["amount"], wire["balance"], wire["credit_limit"], wire["available_credit"]) == (
        "125.50",
        "425.50",
        "1000.00",
        "574.50",
    )


def test_approval_rejected_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason is null exactly when"):
        decision(reason="overdue_hold")


def test_decline_rejected_without_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason is null exactly when"):
        decision(decision="declined")


def test_decline_reason_outside_the_contract_rejected() -> None:
    with pytest.raises(ValidationError):
        decision(decision="declined", reason="too_expensive")


def test_decline_reasons_are_the_contracts() -> None:
    assert set(DECLINE_REASONS) == {
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
    }


def test_available_credit_must_be_limit_minus_balance() -> None:
    with pytest.raises(ValidationError, match="available_credit"):
        decision(available_credit="500.00")


def test_available_credit_may_be_negative_when_over_limit() -> None:
    over = decision(balance="1100.00", available_credit="-100.00", over_limit=True)
    assert over.available_credit == Decimal("-100")


def test_insufficient_credit_decline_needs_the_account_position() -> None:
    with pytest.raises(ValidationError, match="balance"):
        decision(decision="declined", reason="insufficient_credit", balance=None)


def test_unknown_account_decline_may_omit_balance_and_limit() -> None:
    declined = decision(
        decision="declined",
        reason="account_not_found",
        balance=None,
        credit_limit=None,
        available_credit=None,
    )
    assert declined.balance is None


def test_unknown_account_decline_still_names_the_account() -> None:
    with pytest.raises(ValidationError, match="account_number"):
        decision(decision="declined", reason="account_not_found", account_number=None)


def test_invalid_request_built_from_a_broken_sale() -> None:
    raw = b'{"event_id": "e-9", "sale_id": "S-9", "currency": "nzd", "total": 12.5, "store_id": 4}'
    fields = best_effort_fields(raw, "event_id", "sale_id", "store_id", "currency")
    declined = invalid_request_decision(fields, "d-9", NOW)
    assert declined is not None
    assert (declined.request_event_id, declined.sale_id, declined.reason) == (
        "e-9",
        "S-9",
        "invalid_request",
    )
    assert declined.currency is None  # "nzd" is not echoed back as if it were valid
    assert decision_key(declined) == "S-9"


def test_invalid_request_without_an_event_id_gets_no_reply() -> None:
    assert invalid_request_decision(best_effort_fields(b"not json", "event_id"), "d-1", NOW) is None
    assert invalid_request_decision({"event_id": " padded"}, "d-1", NOW) is None


def test_decision_key_is_the_account_number() -> None:
    assert decision_key(decision()) == "ACC-0001"
