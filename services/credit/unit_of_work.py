"""One run of messages in one transaction: accounts loaded once, changes written once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from services.credit import repository
from services.credit.domain.accounts import Account
from services.credit.domain.ledger import Entry
from services.credit.repository import SaleCharge


@dataclass
class CreditUnitOfWork:
    conn: AsyncConnection
    accounts: dict[str, Account]
    sale_charges: dict[str, SaleCharge]
    new_accounts: list[Account] = field(default_factory=list)
    changed: dict[str, Account] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    new_charges: list[SaleCharge] = field(default_factory=list)

    @classmethod
    async def load(
        cls, conn: AsyncConnection, account_numbers: Iterable[str], sale_ids: Iterable[str] = ()
    ) -> CreditUnitOfWork:
        return cls(
            conn=conn,
            accounts=await repository.load_accounts(conn, account_numbers),
            sale_charges=await repository.load_sale_charges(conn, sale_ids),
        )

    def account(self, number: str | None) -> Account | None:
        return self.accounts.get(number) if number is not None else None

    def open(self, account: Account) -> None:
        self.accounts[account.number] = account
        self.new_accounts.append(account)

    def touch(self, account: Account) -> None:
        if account not in self.new_accounts:
            self.changed[account.number] = account

    def post(self, entry: Entry) -> None:
        self.entries.append(entry)
        account = self.accounts[entry.account_number]
        self.touch(account)

    def charge_sale(self, charge: SaleCharge) -> None:
        self.sale_charges[charge.sale_id] = charge
        self.new_charges.append(charge)

    async def flush(self) -> None:
        """Writes everything in dependency order: accounts, entries, then sale charges."""
        await repository.insert_accounts(self.conn, self.new_accounts)
        await repository.update_accounts(self.conn, list(self.changed.values()))
        await repository.insert_entries(self.conn, self.entries)
        await repository.insert_sale_charges(self.conn, self.new_charges)
