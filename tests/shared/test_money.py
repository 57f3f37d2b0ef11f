from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from shared import money
from shared.base import Message
from shared.currencies import ACTIVE_CURRENCIES
from shared.money import (
    Amount,
    Currency,
    NonNegativeAmount,
    PositiveAmount,
    Quantity,
    exact_product,
    format_amount,
    from_minor,
    to_minor,
)
from shared.wire import dumps


class Price(Message):
    amount: Amount


class Owed(Message):
    amount: NonNegativeAmount


class Paid(Message):
    amount: PositiveAmount


class Priced(Message):
    currency: Currency


class Counted(Message):
    quantity: Quantity


def error_types(error: ValidationError) -> list[str]:
    return [e["type"] for e in error.errors()]


def test_decimal_string_parses_to_exact_decimal() -> None:
    assert Price.model_validate_json('{"amount": "125.50"}').amount == Decimal("125.50")


@pytest.mark.parametrize("number", ["125.5", "125", "0", "1e2", "true"])
def test_json_number_rejected_as_money_with_clear_message(number: str) -> None:
    with pytest.raises(ValidationError, match=r'money is a decimal string such as "125.50"'):
        Price.model_validate_json(f'{{"amount": {number}}}')


def test_python_float_rejected_as_money() -> None:
    with pytest.raises(ValidationError, match="money is a decimal string"):
        Price(amount=0.1)


@pytest.mark.parametrize("text", ["1.12345", "1.00000", "0.00001"])
def test_money_with_five_decimal_places_rejected(text: str) -> None:
    with pytest.raises(ValidationError, match="at most 4 decimal places"):
        Price.model_validate_json(f'{{"amount": "{text}"}}')


def test_money_with_four_decimal_places_accepted() -> None:
    assert Price.model_validate_json('{"amount": "0.1234"}').amount == Decimal("0.1234")


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_nan_and_infinity_rejected_as_text(text: str) -> None:
    with pytest.raises(ValidationError, match="money is a decimal string"):
        Price.model_validate_json(f'{{"amount": "{text}"}}')


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_nan_and_infinity_rejected_as_decimal(value: Decimal) -> None:
    with pytest.raises(ValidationError):
        Price(amount=value)


@pytest.mark.parametrize("text", ["1e3", " 1.50", "1.50 ", "+1", "1_000", "1,50", "", "1.", ".5"])
def test_money_text_other_than_plain_decimal_rejected(text: str) -> None:
    with pytest.raises(ValidationError, match="money is a decimal string"):
        Price.model_validate_json(f'{{"amount": "{text}"}}')


def test_money_in_non_ascii_digits_rejected() -> None:
    with pytest.raises(ValidationError, match="money is a decimal string"):
        Price(amount="\u0661\u0662")


def test_money_beyond_14_whole_digits_rejected() -> None:
    with pytest.raises(ValidationError):
        Price.model_validate_json('{"amount": "100000000000000.00"}')


def test_largest_money_still_fits_storage() -> None:
    price = Price.model_validate_json('{"amount": "-99999999999999.9999"}')
    assert to_minor(price.amount) == -999999999999999999


def test_negative_money_accepted_where_signed() -> None:
    assert Price.model_validate_json('{"amount": "-5.00"}').amount == Decimal("-5")


def test_negative_money_rejected_where_non_negative() -> None:
    with pytest.raises(ValidationError):
        Owed.model_validate_json('{"amount": "-0.01"}')


def test_zero_rejected_where_positive() -> None:
    with pytest.raises(ValidationError):
        Paid.model_validate_json('{"amount": "0.00"}')


@pytest.mark.parametrize(
    ("given_text", "wire"),
    [
        ("125.50", "125.50"),
        ("125.5", "125.50"),
        ("1000", "1000.00"),
        ("0.1234", "0.1234"),
        ("0.120", "0.120"),
        ("-3", "-3.00"),
    ],
)
def test_money_serialised_as_string_with_at_least_two_places(given_text: str, wire: str) -> None:
    price = Price.model_validate_json(f'{{"amount": "{given_text}"}}')
    assert price.model_dump(mode="json") == {"amount": wire}
    assert dumps(price) == f'{{"amount":"{wire}"}}'.encode()


def test_money_stays_decimal_in_python_dump() -> None:
    assert Price(amount=Decimal("1.5")).model_dump() == {"amount": Decimal("1.5")}


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("-0"), "0.00"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("1.00000"), "1.0000"),
        (Decimal("12345678901234.5"), "12345678901234.50"),
    ],
)
def test_format_amount(amount: Decimal, text: str) -> None:
    assert format_amount(amount) == text


def test_format_amount_refuses_more_than_four_places() -> None:
    with pytest.raises(ValueError):
        format_amount(Decimal("0.00001"))


@pytest.mark.parametrize("code", ["NZD", "AUD", "USD", "EUR", "JPY", "ZWG", "XCG"])
def test_active_currency_accepted(code: str) -> None:
    assert Priced(currency=code).currency == code


@pytest.mark.parametrize("code", ["XYZ", "nzd", "Nzd", "NZ", "NZDD", "", "XTS", "XXX", "HRK"])
def test_unknown_withdrawn_or_lower_case_currency_rejected(code: str) -> None:
    with pytest.raises(ValidationError, match="ISO 4217"):
        Priced(currency=code)


def test_currency_list_holds_only_three_upper_case_letters() -> None:
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in ACTIVE_CURRENCIES)


@pytest.mark.parametrize(
    ("amount", "units"),
    [
        (Decimal("125.50"), 1255000),
        (Decimal("0.0001"), 1),
        (Decimal("-7"), -70000),
        (Decimal("1.00000"), 10000),
        (Decimal("1E+3"), 10000000),
    ],
)
def test_to_minor_counts_ten_thousandths_exactly(amount: Decimal, units: int) -> None:
    assert to_minor(amount) == units


@pytest.mark.parametrize("amount", [Decimal("0.00001"), Decimal("NaN"), Decimal("1E+20")])
def test_to_minor_refuses_what_a_bigint_of_ten_thousandths_cannot_hold(amount: Decimal) -> None:
    with pytest.raises(ValueError):
        to_minor(amount)


@pytest.mark.parametrize(
    ("units", "text"),
    [
        (1255000, "125.50"),
        (1234567, "123.4567"),
        (1234560, "123.456"),
        (0, "0.00"),
        (-5, "-0.0005"),
    ],
)
def test_from_minor_keeps_two_places_unless_more_are_needed(units: int, text: str) -> None:
    amount = from_minor(units)
    assert str(amount) == text


def test_exact_product_does_not_round_at_28_digits() -> None:
    left, right = Decimal("99999999999999.9999"), Decimal("99999999999999.9999")
    assert exact_product(left, right) == Decimal(f"{999999999999999999**2}E-8")


def test_quantity_keeps_its_scale_on_the_wire() -> None:
    assert Counted.model_validate_json('{"quantity": "1"}').model_dump(mode="json") == {
        "quantity": "1"
    }


@pytest.mark.parametrize("payload", ['{"quantity": 1}', '{"quantity": "0"}', '{"quantity": "-1"}'])
def test_quantity_must_be_a_positive_decimal_string(payload: str) -> None:
    with pytest.raises(ValidationError):
        Counted.model_validate_json(payload)


whole = st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1)


@given(units=whole, places=st.integers(min_value=0, max_value=4))
def test_any_amount_with_at_most_four_places_round_trips_through_the_wire(
    units: int, places: int
) -> None:
    amount = Decimal(units).scaleb(-4).quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN")
    parsed = Price.model_validate_json(dumps(Price(amount=amount)))
    assert parsed.amount == amount
    if places >= 2 and not amount.is_zero():  # the scale survives; fewer places become cents
        assert parsed.model_dump(mode="json") == {"amount": format(amount, "f")}


@given(units=whole)
def test_minor_units_round_trip(units: int) -> None:
    assert to_minor(from_minor(units)) == units


# The fast paths of the conversions on every message give exactly what the context-based rules
# give: the same text, the same integer, the same Decimal (digits and exponent), or the same
# error.
any_decimal = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=p) for p in range(0, 7)
) | st.decimals(allow_nan=True, allow_infinity=True)


def _outcome(function: object, value: object) -> tuple[str, object]:
    try:
        result = function(value)  # type: ignore[operator]
    except (ValueError, ArithmeticError) as error:
        return ("error", type(error))
    return ("value", str(result))


@given(any_decimal)
def test_format_amount_fast_path_agrees_with_the_exact_rule(amount: Decimal) -> None:
    assert _outcome(format_amount, amount) == _outcome(money._format_amount_exactly, amount)


@given(any_decimal)
@example(Decimal("922337203685478"))
@example(Decimal("99999999999999.9999"))
@example(Decimal("-0.00"))
def test_to_minor_fast_path_agrees_with_the_exact_rule(amount: Decimal) -> None:
    assert _outcome(to_minor, amount) == _outcome(money._to_minor_exactly, amount)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_from_minor_agrees_with_the_context_rule(units: int) -> None:
    assert str(from_minor(units)) == str(money._from_minor_by_context(units))


@pytest.mark.parametrize(
    "value", [Decimal("1.00001"), Decimal("100000000000000"), Decimal("-1E+14"), Decimal("1E-5")]
)
def test_a_decimal_from_code_is_held_to_the_same_size(value: Decimal) -> None:
    with pytest.raises(ValidationError):
        Price(amount=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.10000"), Decimal("1.1")),
        (Decimal("99999999999999.9999"), Decimal("99999999999999.9999")),
        (Decimal("0E-10"), Decimal("0")),
        ("000000000000000001.50", Decimal("1.5")),
    ],
)
def test_a_value_within_size_is_accepted_however_written(
    value: Decimal | str, expected: Decimal
) -> None:
    assert Price(amount=value).amount == expected


def _checked_one_by_one(text: str) -> bool:
    try:
        money._decimal_input(text, "money", "money_type", "")
    except PydanticCustomError:
        return False
    return True


@given(st.text(alphabet="0123456789.-+e x", max_size=24))
@example("0" * 30 + "12345678901234.1234")
@example("0" * 30 + "123456789012345")
@example("123456789012345")
@example("-00.0000")
@example("12345678901234.12345")
@example("-")
@example(".5")
@example("5.")
def test_money_text_is_accepted_in_one_match_exactly_when_every_check_passes(text: str) -> None:
    # The one match is the fast path of every money and quantity field; the checks one by one
    # give the errors. They must agree on every text.
    assert (money._WITHIN_SIZE.fullmatch(text) is not None) == _checked_one_by_one(text)
