import json
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from shared.customers import CustomerUpsert, customer_key
from shared.wire import dumps, load_customer

FULL = {
    "event_id": "cu-1",
    "occurred_at": "2026-11-22T10:15:00+13:00",
    "customer_id": "C-77",
    "email": "Jo.Smith@Example.com",
    "first_name": "Jo",
    "last_name": "Smith",
    "mobile": "+64 21 555 0100",
    "birthday": "1990-04-17",
    "tags": ["vip", "trade"],
    "marketing_opt_in": True,
    "opt_in_source": "till",
    "account_number": "ACC-0001",
}


def parse(payload: dict[str, Any]) -> CustomerUpsert:
    return load_customer(json.dumps(payload).encode())


def test_full_customer_parses() -> None:
    customer = parse(FULL)
    assert customer.birthday == date(1990, 4, 17)
    assert customer.email == "Jo.Smith@Example.com"  # kept as given; crm lower-cases to hash
    assert customer_key(customer) == "C-77"


def test_only_event_and_customer_ids_are_required() -> None:
    customer = parse({"event_id": "cu-2", "customer_id": "C-78"})
    assert customer.changes() == {}
    for required in ("event_id", "customer_id"):
        with pytest.raises(ValidationError, match=required):
            parse({name: v for name, v in FULL.items() if name != required})


def test_absent_fields_keep_and_null_fields_clear() -> None:
    customer = parse({"event_id": "cu-3", "customer_id": "C-77", "mobile": None, "tags": None})
    assert customer.changes() == {"mobile": None, "tags": None}


def test_marketing_opt_out_is_a_change_but_absence_is_not() -> None:
    opted_out = parse({"event_id": "e", "customer_id": "C", "marketing_opt_in": False})
    assert opted_out.changes() == {"marketing_opt_in": False}
    assert "marketing_opt_in" not in parse({"event_id": "e", "customer_id": "C"}).changes()


def test_absent_fields_stay_absent_on_the_wire() -> None:
    customer = parse({"event_id": "cu-3", "customer_id": "C-77", "mobile": None})
    assert json.loads(dumps(customer)) == {
        "event_id": "cu-3",
        "customer_id": "C-77",
        "occurred_at": None,
        "mobile": None,
    }
    assert load_customer(dumps(customer)).changes() == customer.changes()


@pytest.mark.parametrize("email", ["jo", "jo@", "@example.com", "jo@example", "jo @example.com"])
def test_customer_rejected_with_invalid_email(email: str) -> None:
    with pytest.raises(ValidationError, match="email"):
        parse({**FULL, "email": email})


@pytest.mark.parametrize("birthday", ["04-17", "17/04/1990", "1990-02-30", 19900417])
def test_customer_rejected_with_birthday_that_is_not_a_full_date(birthday: object) -> None:
    with pytest.raises(ValidationError, match="birthday"):
        parse({**FULL, "birthday": birthday})


def test_customer_rejected_when_occurred_at_has_no_offset() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        parse({**FULL, "occurred_at": "2026-11-22T10:15:00"})


def test_blank_name_from_a_sign_up_form_accepted() -> None:
    assert parse({**FULL, "first_name": ""}).first_name == ""


def test_customer_rejected_with_empty_or_overlong_tag() -> None:
    with pytest.raises(ValidationError, match="tags"):
        parse({**FULL, "tags": [""]})
    with pytest.raises(ValidationError, match="tags"):
        parse({**FULL, "tags": ["x" * 101]})


def test_unknown_customer_fields_ignored() -> None:
    assert "shoe_size" not in parse({**FULL, "shoe_size": 9}).changes()
