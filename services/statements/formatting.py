"""How money and dates read on a statement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.statements.domain.aging import Aging
from shared.money import format_amount


def money(amount: Decimal) -> str:
    """ "1,234.50": grouped, two places, or up to four when the amount has them (rounding here
    would make the columns stop adding up)."""
    return f"{Decimal(format_amount(amount)):,f}"


def balance(amount: Decimal) -> str:
    """A balance: what the customer owes, or "12.00 CR" when we owe the customer."""
    if amount < 0:
        return f"{money(-amount)} CR"
    return money(amount)


def money_or_blank(amount: Decimal) -> str:
    return money(amount) if amount else ""


# English month names whatever the process's locale (strftime's %b follows it).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day(value: date) -> str:
    """ "30 Nov 2026": no reader mistakes it for 11/30 or 30/11."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def aging_columns(aging: Aging) -> list[tuple[str, Decimal]]:
    """The aged balance's columns, oldest last, as a statement heads them."""
    return [
        ("Current", aging.current),
        ("1-30 days", aging.d1_30),
        ("31-60 days", aging.d31_60),
        ("61-90 days", aging.d61_90),
        ("Over 90 days", aging.over_90),
    ]
