"""Posting to an account: the entry moves the balance, the open items follow it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from services.credit.domain.accounts import Account
from services.credit.domain.aging import overdue_beyond
from services.credit.domain.ledger import Entry, EntryKind, post
from services.credit.domain.open_items import (
    OpenItem,
    Settlement,
    apply_credit,
    balance_of,
    open_debit,
    settle_reference_first,
)


class IncompleteBook(AssertionError):
    """A posting needs open items that its partial book was not loaded with: load every open
    item of the account and post again (nothing was changed that must be kept). Escaping that
    retry it is a broken loading rule, a bug: like any failed assertion, the pipeline then
    sets the message aside as a dead letter."""


@dataclass
class Book:
    """An account with its open items: the unit every posting works on.

    A book for charges only may hold just the account's credits (`complete` False): a debit
    settles against credits alone, and the debits left out are summed up by the due date of
    the oldest of them. A partial book may also hold the open debits of some sales: enough for
    a void or a return that its sale's open amount absorbs whole (`post_credit`). Anything else
    that settles debits (payments, journals, write-offs, a credit larger than its sale's open
    amount) needs a complete book.
    """

    account: Account
    items: list[OpenItem] = field(default_factory=list)
    complete: bool = True
    # The oldest due date among the open debits not loaded (a partial book only).
    oldest_debit_due: date | None = None

    def check(self) -> None:
        """A complete book's open items add up to its balance (a partial one cannot tell)."""
        if not self.complete:
            return
        assert balance_of(self.items) == self.account.balance, (
            f"open items of {self.account.number} add up to {balance_of(self.items)}, "
            f"not its balance {self.account.balance}"
        )

    def overdue_beyond(self, today: date) -> bool:
        """True when any debit is more than the account's hold days past its due date."""
        hold_days = self.account.overdue_hold_days
        if hold_days is None:
            return False
        if self.oldest_debit_due is not None and (today - self.oldest_debit_due).days > hold_days:
            return True
        return overdue_beyond(self.items, today, hold_days)


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
    if not book.complete and not _absorbed_by_its_sale(book, amount, named, settles_first):
        raise IncompleteBook(f"a credit of {amount} to {book.account.number} settles other debits")
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


def _absorbed_by_its_sale(
    book: Book, amount: Decimal, named: Sequence[tuple[str, Decimal]], sale_id: str | None
) -> bool:
    """Whether the credit settles nothing but its own sale's open debit, which the book holds:
    then the debits the book was not loaded with are not needed."""
    if named or sale_id is None:
        return False
    debit = next((i for i in book.items if i.is_debit and i.reference == sale_id), None)
    return debit is not None and debit.open_amount >= amount


def write_off(book: Book, *, entry_id: str, posted_at: datetime) -> Posting:
    """Posts the whole balance off; every item is closed."""
    assert book.complete, "a write-off closes every item: it needs them all"
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
