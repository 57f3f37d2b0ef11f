"""Money on the wire: a decimal string with at most 4 fractional digits, never a JSON number.

Inside the services money is a `Decimal`; in the databases it is an integer count of
ten-thousandths (`to_minor`), because SQLite stores NUMERIC as a float and only integers are exact
on both databases.
"""

import re
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, localcontext
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
_BIGINT_DIGITS = 19
_BIGINT_MAX = 2**63 - 1
_MINOR_PER_UNIT = 10**AMOUNT_PLACES
_PLACES_SPARE = AMOUNT_PLACES + 2
_CENTS = Decimal("0.01")
_TEN_THOUSANDTHS = Decimal("0.0001")
# ASCII digits only: Decimal() also accepts "1_000", "1e3", " 5", "NaN" and Arabic-Indic digits,
# none of which a till should send as money.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Exactly the texts `_decimal_input` accepts, in one match: at most 14 whole digits after any
# leading zeros and at most 4 places. The usual value returns at once; any other goes through
# the checks one by one, for the error that names what is wrong.
_WITHIN_SIZE = re.compile(r"-?(?:0+[0-9]{0,14}|[1-9][0-9]{0,13})(?:\.[0-9]{1,4})?")
_SIGNED_PATTERN = r"^-?[0-9]+(\.[0-9]{1,4})?$"
_UNSIGNED_PATTERN = r"^[0-9]+(\.[0-9]{1,4})?$"


# The checks of money and quantities run here, on the text, in one function per field: pydantic's
# own decimal_places and max_digits constraints run as Python functions after parsing and were
# half the cost of validating a sale.


def _money_input(value: object) -> object:
    if type(value) is str and _WITHIN_SIZE.fullmatch(value) is not None:
        return value
    return _decimal_input(
        value, "money", "money_type", 'money is a decimal string such as "125.50"'
    )


def _quantity_text(value: object) -> object:
    if type(value) is str and _WITHIN_SIZE.fullmatch(value) is not None:
        return value
    return _decimal_input(
        value, "quantity", "quantity_type", 'quantity is a decimal string such as "1"'
    )


def _decimal_input(value: object, what: str, error: str, message: str) -> object:
    if isinstance(value, float | int):  # a float has already lost cents
        raise PydanticCustomError(error, message)
    if isinstance(value, str):
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            raise PydanticCustomError(error, message)
        whole, _, fraction = value.lstrip("-").partition(".")
        _check_size(len(whole.lstrip("0")), len(fraction), what)
    elif isinstance(value, Decimal) and value.is_finite():
        # A Decimal from our own code: its places are those of its value.
        _, digits, exponent = value.normalize().as_tuple()
        assert isinstance(exponent, int)
        places = max(0, -exponent)
        whole_digits = max(0, len(digits) + exponent) if any(digits) else 0
        _check_size(whole_digits, places, what)
    return value


def _check_size(whole_digits: int, places: int, what: str) -> None:
    # Places are counted on the text, not the value: "1.00000" has five written places.
    if places > AMOUNT_PLACES:
        raise PydanticCustomError(
            "decimal_places", "{what} has at most 4 decimal places", {"what": what}
        )
    if whole_digits > AMOUNT_WHOLE_DIGITS_MAX:
        raise PydanticCustomError(
            "decimal_whole_digits", "{what} has at most 14 whole digits", {"what": what}
        )


def format_amount(amount: Decimal) -> str:
    """Money as wire text: at least 2 places, at most 4, never an exponent ("1000.00")."""
    # The usual case, 2 to 4 places already, needs no context: it is on every reply.
    text = format(amount, "f")
    places = len(text) - text.find(".") - 1 if "." in text else 0
    if 2 <= places <= AMOUNT_PLACES and not (text[0] == "-" and amount.is_zero()):
        return text
    return _format_amount_exactly(amount)


def _format_amount_exactly(amount: Decimal) -> str:
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
    # The usual case, exactly as a fraction (no context involved): a finite amount of a
    # sensible size (the bound keeps as_integer_ratio from building a huge integer) whose
    # reduced denominator divides 10,000. Anything else is decided, or refused, below.
    if amount.is_finite() and -_BIGINT_DIGITS <= amount.adjusted() < _BIGINT_DIGITS:
        numerator, denominator = amount.as_integer_ratio()
        scale, remainder = divmod(_MINOR_PER_UNIT, denominator)
        if not remainder:
            units = int(numerator * scale)
            if -_BIGINT_MAX - 1 <= units <= _BIGINT_MAX:
                return units
    return _to_minor_exactly(amount)


def _to_minor_exactly(amount: Decimal) -> int:
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
    whole, fraction = divmod(abs(units), 10**AMOUNT_PLACES)
    sign = "-" if units < 0 else ""
    if fraction % 100 == 0:
        return Decimal(f"{sign}{whole}.{fraction // 100:02d}")
    if fraction % 10 == 0:
        return Decimal(f"{sign}{whole}.{fraction // 10:03d}")
    return Decimal(f"{sign}{whole}.{fraction:04d}")


def _from_minor_by_context(units: int) -> Decimal:
    with localcontext() as context:
        context.prec = len(str(abs(units))) + _PLACES_SPARE
        amount = Decimal(units).scaleb(-AMOUNT_PLACES)
        normalized = amount.normalize()
        exponent = normalized.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent >= -2:
            return amount.quantize(_CENTS)
        return normalized


# A product of finite decimals has at most the digits of both together; this context never
# rounds one (the default context would at 28 digits), and needs no localcontext() per call.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def exact_product(left: Decimal, right: Decimal) -> Decimal:
    """`left * right` without the default 28-digit context rounding the product."""
    return _EXACT.multiply(left, right)


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
    BeforeValidator(_money_input),
    _MONEY_TEXT,
    _money_schema(_SIGNED_PATTERN),
]
"""Signed money: ledger amounts and balances."""

NonNegativeAmount = Annotated[Amount, Field(ge=0), _money_schema(_UNSIGNED_PATTERN)]
PositiveAmount = Annotated[Amount, Field(gt=0), _money_schema(_UNSIGNED_PATTERN)]

Quantity = Annotated[
    Decimal,
    BeforeValidator(_quantity_text),
    Field(gt=0),
    PlainSerializer(_format_quantity, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _UNSIGNED_PATTERN, "examples": ["1", "0.25"]}),
]
"""A positive count or measure of goods; written like money, printed with the scale it came in."""
