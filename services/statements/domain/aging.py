"""Aging as of a day, worked out from the entries alone, the way the credit service settles.

Every debit (a charge, a positive journal or opening balance) opens an item, due on its due
date. Every credit settles open debits oldest due date first; a charge reversal or a return
settles the sale it names first. What a credit leaves over stays open as a credit, and the next
debit uses it up. A write-off closes everything. So the open amounts always add up to the
balance, and the buckets add up to it too.

Two things the entries do not carry cannot be reproduced: a payment's named allocations and the
sale a credit note was issued against. Both settle oldest first here, so the buckets can differ
from the credit service's for such an account; their total never does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from services.statements.domain.ledger import ZERO, Entry
from shared.statements import aging_bucket

# Credits that carry the sale they undo as their reference, and settle it first.
_SETTLES_ITS_SALE = frozenset({"charge_reversal", "credit_note"})


@dataclass(frozen=True)
class Aging:
    current: Decimal = ZERO
    d1_30: Decimal = ZERO
    d31_60: Decimal = ZERO
    d61_90: Decimal = ZERO
    over_90: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.current + self.d1_30 + self.d31_60 + self.d61_90 + self.over_90


@dataclass
class OpenItem:
    entry_id: str
    reference: str | None
    open_amount: Decimal
    due_date: date
    posted_at: datetime


def open_items(entries: Iterable[Entry]) -> list[OpenItem]:
    """The items still open after posting `entries`, in ledger order."""
    items: list[OpenItem] = []
    for entry in entries:
        if entry.kind == "write_off":
            items = _write_off(items, entry)
        elif entry.is_debit:
            _open_debit(items, entry)
        elif entry.amount < 0:
            _apply_credit(items, entry)
    return [item for item in items if item.open_amount != 0]


def age(items: Iterable[OpenItem], as_of: date) -> Aging:
    """Buckets by days past due on `as_of`; credits not yet used count as current."""
    buckets = dict.fromkeys(("current", "d1_30", "d31_60", "d61_90", "over_90"), ZERO)
    for item in items:
        late = (as_of - item.due_date).days if item.open_amount > 0 else 0
        buckets[aging_bucket(late)] += item.open_amount
    return Aging(**buckets)


def _oldest_first(items: Iterable[OpenItem]) -> list[OpenItem]:
    return sorted(items, key=lambda item: (item.due_date, item.posted_at, item.entry_id))


def _open_debit(items: list[OpenItem], entry: Entry) -> None:
    # A debit without a due date cannot come from the credit service; due on the day posted.
    due = entry.due_date or entry.posted_at.astimezone(UTC).date()
    debit = OpenItem(entry.entry_id, entry.reference, entry.amount, due, entry.posted_at)
    for credit in _oldest_first(i for i in items if i.open_amount < 0):
        _settle(debit, credit, min(debit.open_amount, -credit.open_amount))
        if debit.open_amount == 0:
            break
    items.append(debit)


def _apply_credit(items: list[OpenItem], entry: Entry) -> None:
    # The credit service dates a credit's item by its UTC posting day; only credits are ordered
    # by it, so the same day keeps the same order.
    posted_on = entry.posted_at.astimezone(UTC).date()
    credit = OpenItem(entry.entry_id, entry.reference, entry.amount, posted_on, entry.posted_at)
    debits = [i for i in items if i.open_amount > 0]
    if entry.kind in _SETTLES_ITS_SALE and entry.reference is not None:
        sale = next((i for i in debits if i.reference == entry.reference), None)
        if sale is not None:
            _settle(sale, credit, min(sale.open_amount, -credit.open_amount))
    for debit in _oldest_first(debits):
        if credit.open_amount == 0:
            break
        _settle(debit, credit, min(debit.open_amount, -credit.open_amount))
    if credit.open_amount < 0:
        items.append(credit)


def _write_off(items: list[OpenItem], entry: Entry) -> list[OpenItem]:
    """Closes every item. A write-off posts the credit service's whole balance off; should the
    store's entries disagree with it, the difference stays open rather than vanish."""
    rest = sum((item.open_amount for item in items), ZERO) + entry.amount
    if rest == 0:
        return []
    due = entry.posted_at.astimezone(UTC).date()
    return [OpenItem(entry.entry_id, entry.reference, rest, due, entry.posted_at)]


def _settle(debit: OpenItem, credit: OpenItem, amount: Decimal) -> None:
    debit.open_amount -= amount
    credit.open_amount += amount
