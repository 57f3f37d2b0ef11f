import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.statements import Aging, StatementSent, statement_key
from shared.wire import dumps, load_statement_request, load_statement_sent

SENT = {
    "event_id": "st-1",
    "account_number": "ACC-0001",
    "statement_id": "ACC-0001/2026-11",
    "period_start": "2026-11-01",
    "period_end": "2026-11-30",
    "opening_balance": "300.00",
    "closing_balance": "425.50",
    "amount_due": "425.50",
    "due_date": "2026-12-20",
    "aging": {"current": "125.50", "1_30": "300.00", "31_60": "0", "61_90": "0", "over_90": "0"},
    "delivered_to": "accounts@hammer.example",
    "status": "sent",
    "detail": None,
}


def parse_sent(payload: dict[str, Any]) -> StatementSent:
    return load_statement_sent(json.dumps(payload).encode())


def test_statement_request_parses_and_delivers_by_default() -> None:
    raw = b'{"event_id": "r-1", "account_number": "ACC-0001", "period_end": "2026-11-30"}'
    request = load_statement_request(raw)
    assert request.period_end == date(2026, 11, 30)
    assert request.deliver is True
    assert statement_key(request) == "ACC-0001"


def test_statement_request_with_deliver_false() -> None:
    raw = (
        b'{"event_id": "r-1", "account_number": "A", "period_end": "2026-11-30", "deliver": false}'
    )
    assert load_statement_request(raw).deliver is False


def test_statement_request_rejected_with_period_end_not_a_date() -> None:
    with pytest.raises(ValidationError, match="period_end"):
        load_statement_request(b'{"event_id": "r", "account_number": "A", "period_end": "Nov"}')


def test_statement_sent_parses_with_contract_aging_names() -> None:
    sent = parse_sent(SENT)
    assert sent.aging.d1_30 == Decimal("300")
    assert sent.aging.total() == Decimal("425.50")


def test_aging_written_with_contract_names_and_money_as_text() -> None:
    wire = json.loads(dumps(parse_sent(SENT)))
    assert wire["aging"] == {
        "current": "125.50",
        "1_30": "300.00",
        "31_60": "0.00",
        "61_90": "0.00",
        "over_90": "0.00",
    }
    assert wire["closing_balance"] == "425.50"


def test_aging_accepts_python_names_too() -> None:
    zero = Decimal("0")
    aging = Aging(current=zero, d1_30=zero, d31_60=zero, d61_90=zero, over_90=Decimal("1"))
    assert aging.model_dump(mode="json")["over_90"] == "1.00"
    assert set(aging.model_dump()) == {"current", "1_30", "31_60", "61_90", "over_90"}


def test_sent_statement_rejected_without_delivered_to() -> None:
    with pytest.raises(ValidationError, match="delivered_to"):
        parse_sent({**SENT, "delivered_to": None})


def test_rendered_statement_needs_no_address() -> None:
    assert parse_sent({**SENT, "status": "rendered", "delivered_to": None}).status == "rendered"


def test_failed_statement_rejected_without_detail() -> None:
    with pytest.raises(ValidationError, match="detail"):
        parse_sent({**SENT, "status": "failed"})


def test_statement_rejected_with_unknown_status() -> None:
    with pytest.raises(ValidationError, match="status"):
        parse_sent({**SENT, "status": "queued"})


def test_statement_rejected_when_period_starts_after_it_ends() -> None:
    with pytest.raises(ValidationError, match="period_start"):
        parse_sent({**SENT, "period_start": "2026-12-01"})


def test_statement_rejected_with_float_money() -> None:
    with pytest.raises(ValidationError, match="money is a decimal string"):
        parse_sent({**SENT, "amount_due": 425.5})
