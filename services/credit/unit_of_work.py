"""One run of messages in one transaction: accounts loaded once, changes written once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.bulk import Writes
from services.common.errors import Contended
from services.common.inbox import Claims
from services.common.messages import Outgoing
from services.credit import repository
from services.credit.domain.accounts import Account
from services.credit.domain.open_items import OpenItem
from services.credit.domain.postings import Book, Posting
from services.credit.repository import SaleCharge


@dataclass(frozen=True)
class Settling:
    """What, in a run of sales, settles debits: the accounts of voids and returns, and the
    sales they name.

    With `whole_books` those accounts get every open item. Without, their books stay partial
    and hold, besides their credits, only the open debits of the sales named: enough for a
    void or a return that its sale absorbs whole (posting anything else raises IncompleteBook,
    and the run is loaded again with whole books). An account can hold hundreds of open
    items; a void need not read them all.
    """

    account_numbers: frozenset[str] = frozenset()
    sale_ids: frozenset[str] = frozenset()
    whole_books: bool = True

    def accounts(self, accounts: dict[str, Account], charges: dict[str, SaleCharge]) -> set[str]:
        named = {n for n in self.account_numbers if n in accounts}
        named |= {charges[s].account_number for s in self.sale_ids if s in charges}
        # A member's credit goes to its group's parent.
        return named | {
            parent
            for n in named
            if (parent := accounts[n].parent_account_number) is not None and parent in accounts
        }


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
    # The open amount of every item as loaded: only the items that differ are written back.
    _stored_items: dict[str, Decimal] = field(default_factory=dict)
    # Accounts whose balance moved (their other columns are untouched).
    _balances: set[str] = field(default_factory=set)
    # Where each sale charged in this unit of work is in `new_charges`.
    _new_charge_at: dict[str, int] = field(default_factory=dict)
    # Read without locks: each account's version as read, which guards its writes.
    _versions: dict[str, int] | None = None

    @classmethod
    async def load(
        cls,
        conn: AsyncConnection,
        account_numbers: Iterable[str],
        sale_ids: Iterable[str] = (),
        entry_ids: Iterable[str] = (),
        members: Iterable[str] = (),
        *,
        charges_only_but: Settling | None = None,
    ) -> CreditUnitOfWork:
        """Loads and locks the accounts named and the charges of the sales named.

        Every book is complete unless `charges_only_but` is given: then only the accounts it
        names (and the payers of the sales it names) get every open item, and the rest, which
        are only charged, get their credits and the due date of their oldest debit.
        """
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
        sales_debits: list[str] = []
        if charges_only_but is None:
            complete = set(accounts)
        elif charges_only_but.whole_books:
            complete = charges_only_but.accounts(accounts, charges)
        else:
            complete = set()
            sales_debits = sorted(charges_only_but.sale_ids)
        partial = accounts.keys() - complete
        items = await repository.load_books_items(
            conn, sorted(complete), sorted(partial), debits_of_sales=sales_debits
        )
        held = sorted(n for n in partial if accounts[n].overdue_hold_days is not None)
        # The sales' debits loaded as items are left out: a void in the run may close them.
        oldest = await repository.oldest_debit_dues(conn, held, but_of_sales=sales_debits)
        books = {
            n: Book(a, items.get(n, []), complete=n in complete, oldest_debit_due=oldest.get(n))
            for n, a in accounts.items()
        }
        return cls(
            conn=conn,
            books=books,
            sale_charges=charges,
            known_entries=await repository.existing_entries(conn, entry_ids),
            parents=await repository.with_members(conn, members),
            _stored_items={i.item_id: i.open_amount for its in items.values() for i in its},
        )

    @classmethod
    async def read_unlocked(
        cls,
        conn: AsyncConnection,
        account_numbers: Iterable[str],
        sale_ids: Iterable[str],
        settling: Settling,
        claims: Claims,
    ) -> tuple[CreditUnitOfWork, dict[str, list[Outgoing]]]:
        """What `load(..., charges_only_but=settling)` loads for a run of sales with partial
        books (`settling.whole_books` false), in one statement and without locks (PostgreSQL),
        and the replies stored for `claims` found in the same statement.

        Nothing holds the accounts meanwhile, so `flush` guards every write by the accounts'
        versions as read (`accounts.version`, which every write of an account's row adds one
        to): if another writer changed an account this read, the writes fail whole and the
        batch is applied again on the locking path. Every change to an account's open items
        also writes its row (`flush`), so its version covers its items too.
        """
        if settling.whole_books:
            raise ValueError("an unlocked read has partial books only")
        read = await repository.read_unlocked(
            conn, account_numbers, sale_ids, debits_of_sales=settling.sale_ids, claims=claims
        )
        books = {
            n: Book(
                a,
                read.items.get(n, []),
                complete=False,
                oldest_debit_due=read.oldest_debit_dues.get(n),
            )
            for n, a in read.accounts.items()
        }
        uow = cls(
            conn=conn,
            books=books,
            sale_charges=read.charges,
            known_entries=set(),
            _stored_items={i.item_id: i.open_amount for its in read.items.values() for i in its},
            _versions=read.versions,
        )
        return uow, claims.stored(read.claimed)

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
        self._balances.add(posting.entry.account_number)

    def charge_sale(self, charge: SaleCharge) -> None:
        self.sale_charges[charge.sale_id] = charge
        self._new_charge_at[charge.sale_id] = len(self.new_charges)
        self.new_charges.append(charge)

    def reverse_charge(self, sale_id: str) -> None:
        charge = self.sale_charges[sale_id]
        self.sale_charges[sale_id] = replace(charge, reversed=True)
        at = self._new_charge_at.get(sale_id)
        if at is not None:
            self.new_charges[at] = self.sale_charges[sale_id]
        else:
            self.reversed_sales.append(sale_id)

    def _items_to_save(self) -> tuple[list[OpenItem], list[OpenItem]]:
        """The items new in this unit of work, and the stored items whose open amount moved."""
        stored = self._stored_items
        new: list[OpenItem] = []
        changed: list[OpenItem] = []
        for number in self._balances:
            for item in self.books[number].items:
                before = stored.get(item.item_id)
                if before is None:
                    new.append(item)
                elif before != item.open_amount:
                    changed.append(item)
        return new, changed

    async def flush(self) -> None:
        """Writes everything: accounts and reversals now; balances, entries, items and sale
        charges with the pipeline's other writes of the batch (one round trip), or now when
        no pipeline collects them."""
        for number in self._balances:
            self.books[number].check()
        if self._versions is not None:
            self._flush_guarded()
            return
        opened = {a.number for a in self.new_accounts}
        # Before the entries that refer to them.
        await repository.insert_accounts(self.conn, self.new_accounts)
        await repository.update_accounts(self.conn, list(self.changed.values()))
        collected = Writes.of(self.conn)
        writes = collected if collected is not None else Writes()
        repository.update_balances(
            writes,
            [
                self.books[n].account
                for n in sorted(self._balances)
                if n not in opened and n not in self.changed
            ],
        )
        self._write_ledger(writes)
        if collected is None:
            await writes.flush(self.conn)

    def _flush_guarded(self) -> None:
        """The writes of an unlocked read: each account's balance only if the account is still
        as read, and the accounts only read checked unchanged; else nothing is written."""
        versions = self._versions
        assert versions is not None
        writes = Writes.of(self.conn)
        if writes is None:
            raise Contended("an unlocked unit of work writes through the pipeline's writes")
        if self.new_accounts or self.changed:
            # Their statements are not guarded; the locking path writes them.
            raise Contended("opening or changing an account takes the locking path")
        written = sorted(self._balances)
        only_read = sorted(self.books.keys() - self._balances)
        repository.update_balances(
            writes, [self.books[n].account for n in written], [versions[n] for n in written]
        )
        repository.expect_accounts_unchanged(writes, only_read, [versions[n] for n in only_read])
        self._write_ledger(writes)

    def _write_ledger(self, writes: Writes) -> None:
        """Entries, open items, settlements and sale charges: the same on both paths."""
        new_items, changed_items = self._items_to_save()
        reversed_at = self.postings[-1].entry.posted_at if self.postings else None
        if reversed_at is not None:
            repository.mark_reversed(writes, self.reversed_sales, reversed_at)
        repository.insert_entries(writes, [p.entry for p in self.postings])
        repository.insert_open_items(writes, new_items)
        repository.update_open_items(writes, changed_items)
        repository.insert_settlements(writes, [s for p in self.postings for s in p.settlements])
        repository.insert_sale_charges(writes, self.new_charges)
