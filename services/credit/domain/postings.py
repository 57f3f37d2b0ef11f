"""Posting to an account: the entry moves the balance, the open items follow it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from services.credit.domain.accounts import Account
from services.credit.domain.ledger import Entry, EntryKind, post
from services.credit.domain.open_items import (
    OpenItem,
    Settlement,
    apply_credit,
    balance_of,
    open_debit,
    settle_reference_first,
)


@dataclass
class Book:
    """An account with its open items: the unit every posting works on."""

    account: Account
    items: list[OpenItem] = field(default_factory=list)

    def check(self) -> None:
        assert balance_of(self.items) == self.account.balance, (
            f"open items of {self.account.number} add up to {balance_of(self.items)}, "
            f"not its balance {self.account.balance}"
        )


@dataclass(frozen=True)
class Posting:
    entry: Entry
    settlements: list[Settlement]


def post_debit(
    book: Book,
    *,
    entry_id: str,
    kind: EntryKind,
    amount: Decimal,
    reference: str | None,
    posted_at: datetime,
    due_date: date,
    forced: bool = False,
    override: tuple[str, str] | None = None,
    member_account_number: str | None = None,
) -> Posting:
    """A debit (amount > 0): a charge, a positive journal or opening balance."""
    assert amount > 0
    entry = post(
        book.account,
        entry_id=entry_id,
        kind=kind,
        amount=amount,
        reference=reference,
        posted_at=posted_at,
        due_date=due_date,
        forced=forced,
        override=override,
        member_account_number=member_account_number,
    )

    item = OpenItem(entry_id, book.account.number, reference, amount, amount, due_date, posted_at)
    return Posting(entry, open_debit(book.items, item))


def post_credit(
    book: Book,
    *,
    entry_id: str,
    kind: EntryKind,
    amount: Decimal,
    reference: str | None,
    posted_at: datetime,
    named: Sequence[tuple[str, Decimal]] = (),
    settles_first: str | None = None,
) -> Posting:
    """A credit of `amount` > 0: settles the named sales (each by its amount), or the sale
    `settles_first` as far as it is open, then the oldest items."""
    assert amount > 0
    item = OpenItem(
        entry_id, book.account.number, reference, -amount, -amount, posted_at.date(), posted_at
    )
    if settles_first is not None:
        settlements = settle_reference_first(book.items, item, settles_first)
    else:
        settlements = apply_credit(book.items, item, named)
    entry = post(
        book.account,
        entry_id=entry_id,
        kind=kind,
        amount=-amount,
        reference=reference,
        posted_at=posted_at,
    )
    return Posting(entry, settlements)


def write_off(book: Book, *, entry_id: str, posted_at: datetime) -> Posting:
    """Posts the whole balance off; every item is closed."""
    amount = -book.account.balance
    entry = post(
        book.account,
        entry_id=entry_id,
        kind="write_off",
        amount=amount,
        reference=None,
        posted_at=posted_at,
    )
    settlements = [
        Settlement(entry_id, i.item_id, i.open_amount) for i in book.items if i.open_amount
    ]
    for item in book.items:
        item.open_amount = Decimal("0")
    return Posting(entry, settlements)
