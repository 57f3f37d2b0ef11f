"""One run of messages in one transaction: customers loaded once, changes written once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from services.crm import repository
from services.crm.domain.customers import Customer
from shared.money import to_minor


@dataclass
class CrmUnitOfWork:
    conn: AsyncConnection
    customers: dict[str, Customer]
    counted: set[str]
    stored: set[str] = field(default_factory=set)
    dirty: set[str] = field(default_factory=set)
    new_sales: list[dict[str, object]] = field(default_factory=list)

    @classmethod
    async def load(
        cls, conn: AsyncConnection, customer_ids: Iterable[str], sale_ids: Iterable[str] = ()
    ) -> CrmUnitOfWork:
        found = await repository.load_customers(conn, customer_ids)
        return cls(conn, found, await repository.counted_sales(conn, sale_ids), set(found))

    def get(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def put(self, customer: Customer) -> None:
        self.customers[customer.customer_id] = customer
        self.dirty.add(customer.customer_id)

    def count_sale(
        self, sale_id: str, customer_id: str, amount: Decimal, currency: str, occurred_at: datetime
    ) -> bool:
        """Counts a sale once; False when it was counted before."""
        if sale_id in self.counted:
            return False
        self.counted.add(sale_id)
        self.new_sales.append(
            {
                "sale_id": sale_id,
                "customer_id": customer_id,
                "amount": to_minor(amount),
                "currency": currency,
                "occurred_at": occurred_at,
            }
        )
        return True

    async def flush(self) -> None:
        new = [self.customers[c] for c in sorted(self.dirty - self.stored)]
        changed = [self.customers[c] for c in sorted(self.dirty & self.stored)]
        await repository.save_customers(self.conn, new, changed)
        await repository.count_sales(self.conn, self.new_sales)
