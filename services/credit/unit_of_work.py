"""One run of messages in one transaction: accounts loaded once, changes written once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from services.credit import repository
from services.credit.domain.accounts import Account
from services.credit.domain.open_items import OpenItem
from services.credit.domain.postings import Book, Posting
from services.credit.repository import SaleCharge


@dataclass
class CreditUnitOfWork:
    conn: AsyncConnection
    books: dict[str, Book]
    sale_charges: dict[str, SaleCharge]
    known_entries: set[str]
    parents: set[str] = field(default_factory=set)
    new_accounts: list[Account] = field(default_factory=list)
    changed: dict[str, Account] = field(default_factory=dict)
    postings: list[Posting] = field(default_factory=list)
    new_charges: list[SaleCharge] = field(default_factory=list)
    reversed_sales: list[str] = field(default_factory=list)
    _stored_items: set[str] = field(default_factory=set)

    @classmethod
    async def load(
        cls,
        conn: AsyncConnection,
        account_numbers: Iterable[str],
        sale_ids: Iterable[str] = (),
        entry_ids: Iterable[str] = (),
        members: Iterable[str] = (),
    ) -> CreditUnitOfWork:
        charges = await repository.load_sale_charges(conn, sale_ids)
        # A void may name no account: the charge it cancels does.
        numbers = {*account_numbers, *(c.account_number for c in charges.values())}
        accounts = await repository.load_accounts(conn, numbers)
        # A member's sale is decided on its parent's credit: lock the parents too. (Sorted
        # locks within each query; a deadlock across workers is detected and retried.)
        parents = {
            a.parent_account_number for a in accounts.values() if a.parent_account_number
        } - accounts.keys()
        accounts |= await repository.load_accounts(conn, parents)
        items = await repository.load_open_items(conn, accounts)
        books = {n: Book(a, items.get(n, [])) for n, a in accounts.items()}
        return cls(
            conn=conn,
            books=books,
            sale_charges=charges,
            known_entries=await repository.existing_entries(conn, entry_ids),
            parents=await repository.with_members(conn, members),
            _stored_items={i.item_id for its in items.values() for i in its},
        )

    def account(self, number: str | None) -> Account | None:
        book = self.books.get(number) if number is not None else None
        return book.account if book is not None else None

    def book(self, number: str) -> Book:
        return self.books[number]

    def open(self, account: Account) -> Book:
        self.books[account.number] = Book(account)
        self.new_accounts.append(account)
        return self.books[account.number]

    def touch(self, account: Account) -> None:
        if account not in self.new_accounts:
            self.changed[account.number] = account

    def record(self, posting: Posting) -> None:
        self.postings.append(posting)
        self.known_entries.add(posting.entry.entry_id)
        self.touch(self.books[posting.entry.account_number].account)

    def charge_sale(self, charge: SaleCharge) -> None:
        self.sale_charges[charge.sale_id] = charge
        self.new_charges.append(charge)

    def reverse_charge(self, sale_id: str) -> None:
        charge = self.sale_charges[sale_id]
        self.sale_charges[sale_id] = replace(charge, reversed=True)
        if charge in self.new_charges:
            self.new_charges[self.new_charges.index(charge)] = self.sale_charges[sale_id]
        else:
            self.reversed_sales.append(sale_id)

    def _items_to_save(self) -> tuple[list[OpenItem], list[OpenItem]]:
        touched = {p.entry.account_number for p in self.postings}
        items = [i for n in touched for i in self.books[n].items]
        return (
            [i for i in items if i.item_id not in self._stored_items],
            [i for i in items if i.item_id in self._stored_items],
        )

    async def flush(self) -> None:
        """Writes everything in dependency order: accounts, entries, items, sale charges."""
        for number in {p.entry.account_number for p in self.postings}:
            self.books[number].check()
        new_items, changed_items = self._items_to_save()
        await repository.insert_accounts(self.conn, self.new_accounts)
        await repository.update_accounts(self.conn, list(self.changed.values()))
        await repository.insert_entries(self.conn, [p.entry for p in self.postings])
        await repository.insert_open_items(self.conn, new_items)
        await repository.update_open_items(self.conn, changed_items)
        await repository.insert_settlements(
            self.conn, [s for p in self.postings for s in p.settlements]
        )
        await repository.insert_sale_charges(self.conn, self.new_charges)
        reversed_at = self.postings[-1].entry.posted_at if self.postings else None
        if reversed_at is not None:
            await repository.mark_reversed(self.conn, self.reversed_sales, reversed_at)
