"""Open items: what is still owed on each debit, and how credits settle them.

Every debit (a charge, a positive journal or opening balance) opens an item for its amount.
Every credit (payment, credit note, reversal, negative journal) settles items: those it names
first, then the oldest by due date. A credit left over stays open as a negative item, and the
next debit consumes it. So the open amounts of an account always add up to its balance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from services.credit.domain.errors import AllocationExceedsOpenAmount, SaleNotOpen

ZERO = Decimal("0")


@dataclass
class OpenItem:
    item_id: str
    account_number: str
    reference: str | None
    amount: Decimal
    open_amount: Decimal
    due_date: date
    posted_at: datetime

    @property
    def is_debit(self) -> bool:
        return self.open_amount > 0


@dataclass(frozen=True)
class Settlement:
    """Part of a credit applied to one item."""

    credit_id: str
    item_id: str
    amount: Decimal


def _oldest_first(items: Iterable[OpenItem]) -> list[OpenItem]:
    return sorted(items, key=lambda item: (item.due_date, item.posted_at, item.item_id))


def open_debit(items: list[OpenItem], debit: OpenItem) -> list[Settlement]:
    """Adds a debit; credits already on the account settle it, oldest credit first."""
    assert debit.open_amount > 0, "a debit opens a positive item"
    settled = []
    for credit in _oldest_first(i for i in items if i.open_amount < 0):
        take = min(debit.open_amount, -credit.open_amount)
        credit.open_amount += take
        debit.open_amount -= take
        settled.append(Settlement(credit.item_id, debit.item_id, take))
        if debit.open_amount == 0:
            break
    items.append(debit)
    return settled


def apply_credit(
    items: list[OpenItem],
    credit: OpenItem,
    named: Sequence[tuple[str, Decimal]] = (),
) -> list[Settlement]:
    """Settles items with a credit (`credit.open_amount` < 0): the named sales first, each by
    the amount given, then the oldest debits; what is left stays open as a credit."""
    assert credit.open_amount < 0, "a credit opens a negative item"
    debits = {item.reference: item for item in items if item.is_debit and item.reference}
    settled = []
    for reference, amount in named:
        item = debits.get(reference)
        if item is None:
            raise SaleNotOpen(f"sale {reference} has nothing open on this account")
        if amount > item.open_amount:
            raise AllocationExceedsOpenAmount(
                f"allocation of {amount} to sale {reference} exceeds its open {item.open_amount}"
            )
    for reference, amount in named:
        settled.append(_settle(debits[reference], credit, amount))
    for item in _oldest_first(i for i in items if i.is_debit):
        if credit.open_amount == 0:
            break
        settled.append(_settle(item, credit, min(item.open_amount, -credit.open_amount)))
    if credit.open_amount < 0:
        items.append(credit)
    return [s for s in settled if s.amount]


def _settle(debit: OpenItem, credit: OpenItem, amount: Decimal) -> Settlement:
    debit.open_amount -= amount
    credit.open_amount += amount
    return Settlement(credit.item_id, debit.item_id, amount)


def settle_reference_first(
    items: list[OpenItem], credit: OpenItem, reference: str | None
) -> list[Settlement]:
    """A credit for one sale (a void, a return) settles that sale first, as far as it is
    open, and the oldest items after it."""
    target = next((i for i in items if i.is_debit and i.reference == reference), None)
    named = (
        [] if target is None else [(reference or "", min(target.open_amount, -credit.open_amount))]
    )
    return apply_credit(items, credit, named)


def balance_of(items: Iterable[OpenItem]) -> Decimal:
    return sum((item.open_amount for item in items), ZERO)
