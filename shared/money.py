"""Money on the wire: a decimal string with at most 4 fractional digits, never a JSON number.

Inside the services money is a `Decimal`; in the databases it is an integer count of
ten-thousandths (`to_minor`), because SQLite stores NUMERIC as a float and only integers are exact
on both databases.
"""

import re
from decimal import Decimal, localcontext
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from shared.currencies import Currency

__all__ = [
    "AMOUNT_PLACES",
    "AMOUNT_WHOLE_DIGITS_MAX",
    "Amount",
    "Currency",
    "NonNegativeAmount",
    "PositiveAmount",
    "Quantity",
    "exact_product",
    "format_amount",
    "from_minor",
    "to_minor",
]

AMOUNT_PLACES = 4
# 14 whole digits plus 4 places is 10**18 ten-thousandths, inside a signed BIGINT (9.2 * 10**18),
# so every amount that passes validation can be stored exactly.
AMOUNT_WHOLE_DIGITS_MAX = 14
_DIGITS_MAX = AMOUNT_WHOLE_DIGITS_MAX + AMOUNT_PLACES
_BIGINT_DIGITS = 19
_BIGINT_MAX = 2**63 - 1
_PLACES_SPARE = AMOUNT_PLACES + 2
_CENTS = Decimal("0.01")
_TEN_THOUSANDTHS = Decimal("0.0001")
# ASCII digits only: Decimal() also accepts "1_000", "1e3", " 5", "NaN" and Arabic-Indic digits,
# none of which a till should send as money.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_SIGNED_PATTERN = r"^-?[0-9]+(\.[0-9]{1,4})?$"
_UNSIGNED_PATTERN = r"^[0-9]+(\.[0-9]{1,4})?$"


def _not_a_json_number(value: object) -> object:
    if isinstance(value, float | int):  # a float has already lost cents
        raise PydanticCustomError("money_type", 'money is a decimal string such as "125.50"')
    return value


def _plain_decimal_string(value: object) -> object:
    if not isinstance(value, str):
        return value
    if _PLAIN_DECIMAL.fullmatch(value) is None:
        raise PydanticCustomError("money_type", 'money is a decimal string such as "125.50"')
    _check_places(value, "money")
    return value


def _quantity_text(value: object) -> object:
    if isinstance(value, float | int):
        raise PydanticCustomError("quantity_type", 'quantity is a decimal string such as "1"')
    if isinstance(value, str):
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            raise PydanticCustomError("quantity_type", 'quantity is a decimal string such as "1"')
        _check_places(value, "quantity")
    return value


def _check_places(text: str, what: str) -> None:
    # Counted on the text, not the value: pydantic's decimal_places normalises "1.00000" to 1 and
    # would let five written places through.
    _, _, fraction = text.partition(".")
    if len(fraction) > AMOUNT_PLACES:
        raise PydanticCustomError(
            "decimal_places", "{what} has at most 4 decimal places", {"what": what}
        )


def format_amount(amount: Decimal) -> str:
    """Money as wire text: at least 2 places, at most 4, never an exponent ("1000.00")."""
    if not amount.is_finite():
        raise ValueError(f"money must be finite, got {amount}")
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    with localcontext() as context:
        context.prec = _digits_needed(amount)
        if exponent > -2:
            amount = amount.quantize(_CENTS)
        elif exponent < -AMOUNT_PLACES:
            amount = _exact_quantize(amount, _TEN_THOUSANDTHS)
    if amount.is_zero():
        amount = amount.copy_abs()  # "-0.00" reads like a refund
    return format(amount, "f")


def _format_quantity(quantity: Decimal) -> str:
    return format(quantity, "f")


def _exact_quantize(amount: Decimal, unit: Decimal) -> Decimal:
    quantized = amount.quantize(unit)
    if quantized != amount:
        raise ValueError(f"{amount} has more than {AMOUNT_PLACES} decimal places")
    return quantized


def to_minor(amount: Decimal) -> int:
    """Integer ten-thousandths for storage; raises if `amount` is not a whole number of them."""
    if not amount.is_finite():
        raise ValueError(f"money must be finite, got {amount}")
    if not amount.is_zero() and amount.adjusted() >= _BIGINT_DIGITS - AMOUNT_PLACES:
        raise ValueError(f"{amount} does not fit a BIGINT of ten-thousandths")
    with localcontext() as context:
        context.prec = _digits_needed(amount)
        scaled = amount.scaleb(AMOUNT_PLACES)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more than {AMOUNT_PLACES} decimal places")
    units = int(scaled)
    if not -_BIGINT_MAX - 1 <= units <= _BIGINT_MAX:
        raise ValueError(f"{amount} does not fit a BIGINT of ten-thousandths")
    return units


def from_minor(units: int) -> Decimal:
    """Money from stored ten-thousandths: 2 places, or more only when the value needs them."""
    with localcontext() as context:
        context.prec = len(str(abs(units))) + _PLACES_SPARE
        amount = Decimal(units).scaleb(-AMOUNT_PLACES)
        normalized = amount.normalize()
        exponent = normalized.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent >= -2:
            return amount.quantize(_CENTS)
        return normalized


def exact_product(left: Decimal, right: Decimal) -> Decimal:
    """`left * right` without the default 28-digit context rounding the product."""
    with localcontext() as context:
        context.prec = _digits_needed(left) + _digits_needed(right)
        return left * right


def _digits_needed(amount: Decimal) -> int:
    # Enough precision to hold `amount` and to quantize or scale it to 4 places exactly; the
    # default context (28 digits) would round silently instead.
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    return len(digits) + abs(exponent) + _PLACES_SPARE


def _money_schema(pattern: str) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", "pattern": pattern, "examples": ["125.50"]}
    return WithJsonSchema(schema)


_MONEY_TEXT = PlainSerializer(format_amount, return_type=str, when_used="json")

Amount = Annotated[
    Decimal,
    BeforeValidator(_not_a_json_number),
    BeforeValidator(_plain_decimal_string),
    Field(decimal_places=AMOUNT_PLACES, max_digits=_DIGITS_MAX),
    _MONEY_TEXT,
    _money_schema(_SIGNED_PATTERN),
]
"""Signed money: ledger amounts and balances."""

NonNegativeAmount = Annotated[Amount, Field(ge=0), _money_schema(_UNSIGNED_PATTERN)]
PositiveAmount = Annotated[Amount, Field(gt=0), _money_schema(_UNSIGNED_PATTERN)]

Quantity = Annotated[
    Decimal,
    BeforeValidator(_quantity_text),
    Field(gt=0, decimal_places=AMOUNT_PLACES, max_digits=_DIGITS_MAX),
    PlainSerializer(_format_quantity, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _UNSIGNED_PATTERN, "examples": ["1", "0.25"]}),
]
"""A positive count or measure of goods; written like money, printed with the scale it came in."""
