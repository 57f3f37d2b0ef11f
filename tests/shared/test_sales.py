import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.sales import SaleEvent, sale_key
from shared.wire import dumps, load_sale

CONTRACT_EXAMPLE = """{
  "event_id": "e-7d1c", "occurred_at": "2026-11-22T10:15:00+13:00",
  "store_id": "store-1", "terminal_id": "till-2", "sale_id": "S-100045",
  "stage": "authorize",
  "currency": "NZD", "total": "125.50",
  "lines": [{"sku": "HAMMER-1", "description": "Claw hammer", "quantity": "1",
             "unit_price": "125.50", "amount": "125.50", "category": "tools"}],
  "tenders": [{"type": "account", "amount": "125.50"}],
  "account_number": "ACC-0001", "customer_id": "C-77",
  "override": null
}"""


def sale(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(CONTRACT_EXAMPLE)
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not ...}


def parse(payload: dict[str, Any]) -> SaleEvent:
    return load_sale(json.dumps(payload).encode())


def test_contract_example_parses() -> None:
    event = load_sale(CONTRACT_EXAMPLE.encode())
    assert event.stage == "authorize"
    assert event.total == Decimal("125.50")
    assert event.lines[0].quantity == Decimal("1")
    assert event.account_amount() == Decimal("125.50")
    assert event.occurred_at.utcoffset() is not None


def test_sale_round_trips_through_the_wire_unchanged() -> None:
    event = load_sale(CONTRACT_EXAMPLE.encode())
    assert load_sale(dumps(event)) == event
    assert json.loads(dumps(event))["occurred_at"] == "2026-11-22T10:15:00+13:00"


def test_unknown_fields_ignored() -> None:
    event = parse(sale(loyalty_card="X-1", lines=[{**sale()["lines"][0], "colour": "red"}]))
    assert "loyalty_card" not in event.model_dump()


def test_sale_rejected_when_total_is_a_json_float() -> None:
    with pytest.raises(ValidationError, match="money is a decimal string"):
        parse(sale(total=125.5))


def test_sale_rejected_when_tenders_do_not_sum_to_total() -> None:
    with pytest.raises(ValidationError, match=r"tenders sum to 125.50, not the total 130.00"):
        parse(sale(total="130.00"))


def test_sale_rejected_when_line_amount_is_not_quantity_times_unit_price() -> None:
    line = {"sku": "NAIL", "quantity": "3", "unit_price": "0.10", "amount": "0.31"}
    with pytest.raises(ValidationError, match="not quantity x unit_price"):
        parse(sale(lines=[line]))


def test_line_amount_compared_exactly_with_fractional_quantity() -> None:
    line = {"sku": "ROPE", "quantity": "2.5", "unit_price": "1.1111", "amount": "2.77775"}
    with pytest.raises(ValidationError):
        parse(sale(lines=[line]))
    line = {"sku": "ROPE", "quantity": "0.125", "unit_price": "8.00", "amount": "1.00"}
    assert parse(sale(lines=[line])).lines[0].amount == Decimal("1")


def test_discount_line_may_be_negative() -> None:
    discount = {"sku": "DISC", "quantity": "1", "unit_price": "-5.00", "amount": "-5.00"}
    assert parse(sale(lines=[*sale()["lines"], discount])).lines[1].amount == Decimal("-5")


def test_sale_rejected_when_occurred_at_has_no_offset() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        parse(sale(occurred_at="2026-11-22T10:15:00"))


def test_sale_rejected_when_occurred_at_is_a_number() -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        parse(sale(occurred_at=1795302900))


@pytest.mark.parametrize("currency", ["nzd", "XYZ"])
def test_sale_rejected_when_currency_is_not_an_active_iso_code(currency: str) -> None:
    with pytest.raises(ValidationError, match="ISO 4217"):
        parse(sale(currency=currency))


@pytest.mark.parametrize("sale_id", ["", " S-1", "S-1\n", "S" * 201])
def test_sale_rejected_when_id_is_empty_padded_or_too_long(sale_id: str) -> None:
    with pytest.raises(ValidationError):
        parse(sale(sale_id=sale_id))


def test_sale_rejected_when_id_is_a_number() -> None:
    with pytest.raises(ValidationError):
        parse(sale(sale_id=100045))


def test_authorize_rejected_without_account_number() -> None:
    with pytest.raises(ValidationError, match="account_number is required"):
        parse(sale(account_number=None))


def test_authorize_rejected_without_an_account_tender() -> None:
    with pytest.raises(ValidationError, match="authorize needs an account tender"):
        parse(sale(tenders=[{"type": "card", "amount": "125.50"}]))


def test_authorize_charges_only_the_account_tender() -> None:
    tenders = [{"type": "account", "amount": "100.00"}, {"type": "cash", "amount": "25.50"}]
    assert parse(sale(tenders=tenders)).account_amount() == Decimal("100.00")


def test_account_tender_of_zero_rejected() -> None:
    tenders = [{"type": "account", "amount": "0.00"}, {"type": "cash", "amount": "125.50"}]
    with pytest.raises(ValidationError, match="more than zero"):
        parse(sale(tenders=tenders))


def test_completed_sale_with_account_tender_rejected_without_account_number() -> None:
    with pytest.raises(ValidationError, match="account_number is required"):
        parse(sale(stage="completed", account_number=None))


def test_completed_cash_sale_needs_no_account() -> None:
    cash = [{"type": "cash", "amount": "125.50"}]
    event = parse(sale(stage="completed", tenders=cash, account_number=None))
    assert event.account_amount() == 0
    assert sale_key(event) == "C-77"


@pytest.mark.parametrize("missing", ["total", "tenders"])
def test_completed_sale_rejected_without_total_or_tenders(missing: str) -> None:
    with pytest.raises(ValidationError, match=f"{missing} is required for a completed sale"):
        parse(sale(stage="completed", **{missing: ...}))


def test_points_tender_rejected_without_customer_id() -> None:
    tenders = [{"type": "points", "amount": "25.50"}, {"type": "account", "amount": "100.00"}]
    with pytest.raises(ValidationError, match="points tender needs customer_id"):
        parse(sale(tenders=tenders, customer_id=None))


def test_loyalty_amount_leaves_out_points_and_voucher_tenders() -> None:
    tenders = [
        {"type": "points", "amount": "5.00"},
        {"type": "voucher", "amount": "20.00"},
        {"type": "card", "amount": "100.50"},
    ]
    event = parse(sale(stage="completed", tenders=tenders, account_number=None))
    assert event.loyalty_amount() == Decimal("100.50")
    assert event.points_amount() == Decimal("5.00")


def test_returned_sale_rejected_without_original_sale_id() -> None:
    with pytest.raises(ValidationError, match="returned needs original_sale_id"):
        parse(sale(stage="returned"))


def test_returned_sale_with_original_sale_id_accepted() -> None:
    event = parse(sale(stage="returned", sale_id="R-1", original_sale_id="S-100045"))
    assert event.account_amount() == Decimal("125.50")


def test_returned_sale_rejected_with_negative_amounts() -> None:
    tenders = [{"type": "account", "amount": "-125.50"}]
    with pytest.raises(ValidationError):
        parse(sale(stage="returned", original_sale_id="S-1", total="-125.50", tenders=tenders))


def test_voided_sale_needs_only_its_ids() -> None:
    event = parse(sale(stage="voided", total=..., lines=..., tenders=..., account_number=None))
    assert (event.total, event.lines, event.tenders) == (Decimal("0"), [], [])
    assert sale_key(event) == "C-77"


def test_voided_sale_with_total_but_no_tenders_accepted() -> None:
    assert parse(sale(stage="voided", tenders=[])).total == Decimal("125.50")


def test_voided_sale_rejected_when_its_tenders_contradict_its_total() -> None:
    with pytest.raises(ValidationError, match="tenders sum"):
        parse(sale(stage="voided", total="1.00"))


def test_all_problems_of_a_sale_reported_together() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(sale(total="1.00", account_number=None))
    assert "tenders sum" in str(caught.value)
    assert "account_number is required" in str(caught.value)


def test_sale_key_prefers_account_then_customer_then_sale() -> None:
    cash = [{"type": "cash", "amount": "125.50"}]
    completed = sale(stage="completed", tenders=cash)
    assert sale_key(parse(completed)) == "ACC-0001"
    assert sale_key(parse({**completed, "account_number": None})) == "C-77"
    assert sale_key(parse({**completed, "account_number": None, "customer_id": None})) == "S-100045"


def test_override_parses() -> None:
    override = {"code": "MGR-OK", "authorised_by": "Sam"}
    event = parse(sale(override=override))
    assert event.override is not None and event.override.authorised_by == "Sam"
