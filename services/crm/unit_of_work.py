"""One run of messages in one transaction: everything it touches loaded once, and locked, in a
fixed order (purchases, customers, lots), changes written once at the end."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from services.crm import audience_repository, loyalty_repository, repository
from services.crm.domain.customers import Customer, set_points_debt
from services.crm.domain.points import Lot, PointsAccount, Take
from services.crm.domain.purchases import Purchase
from shared.money import to_minor


@dataclass
class CrmUnitOfWork:
    conn: AsyncConnection
    customers: dict[str, Customer]
    purchases: dict[str, Purchase] = field(default_factory=dict)
    seen_returns: set[str] = field(default_factory=set)
    voided_early: set[str] = field(default_factory=set)
    lots: dict[str, dict[str, Lot]] = field(default_factory=dict)
    takes: dict[str, list[Take]] = field(default_factory=dict)
    # Spend inside the tier window, kept current as the run's sales are applied.
    rolling: dict[str, Decimal] = field(default_factory=dict)
    window_start: datetime | None = None
    dirty: set[str] = field(default_factory=set)
    audience: dict[str, bool] = field(default_factory=dict)
    _stored: set[str] = field(default_factory=set)
    _stored_purchases: dict[str, Purchase] = field(default_factory=dict)
    _stored_lots: dict[str, Lot] = field(default_factory=dict)
    _stored_takes: dict[tuple[str, str], Take] = field(default_factory=dict)
    _take_owner: dict[str, str] = field(default_factory=dict)
    _new_returns: list[dict[str, object]] = field(default_factory=list)
    _new_early_voids: list[dict[str, object]] = field(default_factory=list)

    @classmethod
    async def load(
        cls,
        conn: AsyncConnection,
        customer_ids: Iterable[str],
        *,
        sale_ids: Iterable[str] = (),
        return_ids: Iterable[str] = (),
        window_start: datetime | None = None,
    ) -> CrmUnitOfWork:
        """Loads customers; with sale ids, their purchases, points and spend in the window."""
        sale_ids = list(sale_ids)
        purchases = await loyalty_repository.load_purchases(conn, sale_ids)
        ids = {*customer_ids, *(p.customer_id for p in purchases.values())}
        found = await repository.load_customers(conn, ids)
        uow = cls(conn, found, purchases=purchases, _stored=set(found))
        uow._stored_purchases = dict(purchases)
        if window_start is None:
            return uow
        takes = await loyalty_repository.load_takes(conn, list(purchases))
        named = {*purchases, *(t.lot_id for ts in takes.values() for t in ts)}
        uow.lots = await loyalty_repository.load_lots(conn, ids, named)
        uow._stored_lots = {
            lot_id: lot for lots in uow.lots.values() for lot_id, lot in lots.items()
        }
        uow.takes = takes
        uow._stored_takes = {(s, t.lot_id): t for s, ts in takes.items() for t in ts}
        uow.window_start = window_start
        uow.rolling = await loyalty_repository.rolling_spend(conn, ids, window_start)
        uow.seen_returns = await loyalty_repository.seen_returns(conn, return_ids)
        uow.voided_early = await loyalty_repository.voided_before_completion(conn, sale_ids)
        return uow

    def get(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def put(self, customer: Customer) -> None:
        self.customers[customer.customer_id] = customer
        self.dirty.add(customer.customer_id)

    def sync_audience(self, customer_id: str, resubscribe: bool) -> None:
        """Queues the customer for the Mailchimp sync, in this transaction."""
        self.audience[customer_id] = self.audience.get(customer_id, False) or resubscribe

    def points(self, customer_id: str) -> PointsAccount:
        customer = self.customers.get(customer_id)
        debt = customer.points_debt if customer else 0
        return PointsAccount(dict(self.lots.get(customer_id, {})), debt)

    def set_points(self, customer: Customer, account: PointsAccount) -> Customer:
        self.lots[customer.customer_id] = dict(account.lots)
        updated = set_points_debt(customer, account.debt)
        self.put(updated)
        return updated

    def add_purchase(self, purchase: Purchase) -> None:
        self.purchases[purchase.sale_id] = purchase

    def update_purchase(self, purchase: Purchase) -> None:
        self.purchases[purchase.sale_id] = purchase

    def record_takes(self, sale_id: str, customer_id: str, takes: list[Take]) -> None:
        self.takes[sale_id] = takes
        self._take_owner[sale_id] = customer_id

    def record_return(
        self, return_id: str, original_sale_id: str, amount: Decimal, at: datetime
    ) -> None:
        self.seen_returns.add(return_id)
        self._new_returns.append(
            {
                "return_sale_id": return_id,
                "original_sale_id": original_sale_id,
                "amount": to_minor(amount),
                "occurred_at": at,
            }
        )

    def record_early_void(self, sale_id: str, at: datetime) -> None:
        if sale_id not in self.voided_early:
            self.voided_early.add(sale_id)
            self._new_early_voids.append({"sale_id": sale_id, "voided_at": at})

    def in_window(self, purchase: Purchase) -> bool:
        return self.window_start is not None and purchase.occurred_at >= self.window_start

    def add_spend(self, customer_id: str, amount: Decimal) -> None:
        self.rolling[customer_id] = self.rolling.get(customer_id, Decimal("0")) + amount

    async def latest_purchase(self, customer_id: str) -> datetime | None:
        """The customer's latest purchase still standing, this run's changes included."""
        mine = [p for p in self.purchases.values() if p.customer_id == customer_id]
        stored = await loyalty_repository.latest_purchase(
            self.conn, customer_id, [p.sale_id for p in mine]
        )
        standing = [p.occurred_at for p in mine if p.voided_at is None]
        return max([*standing, *([stored] if stored else [])], default=None)

    async def flush(self, now: datetime) -> None:
        new = [self.customers[c] for c in sorted(self.dirty - self._stored)]
        changed = [self.customers[c] for c in sorted(self.dirty & self._stored)]
        await repository.save_customers(self.conn, new, changed)
        await self._flush_loyalty()
        await audience_repository.enqueue(self.conn, self.audience, now)

    async def _flush_loyalty(self) -> None:
        new_purchases = [p for s, p in self.purchases.items() if s not in self._stored_purchases]
        changed_purchases = [
            p
            for s, p in self.purchases.items()
            if s in self._stored_purchases and self._stored_purchases[s] != p
        ]
        await loyalty_repository.save_purchases(self.conn, new_purchases, changed_purchases)
        await loyalty_repository.insert_returns(self.conn, self._new_returns)
        await loyalty_repository.insert_early_voids(self.conn, self._new_early_voids)
        new_lots: list[tuple[str, Lot]] = []
        changed_lots: list[Lot] = []
        for customer_id, lots in sorted(self.lots.items()):
            for lot_id, lot in sorted(lots.items()):
                stored = self._stored_lots.get(lot_id)
                if stored is None:
                    new_lots.append((customer_id, lot))
                elif stored != lot:
                    changed_lots.append(lot)
        await loyalty_repository.save_lots(self.conn, new_lots, changed_lots)
        new_takes: list[tuple[str, str, Take]] = []
        changed_takes: list[tuple[str, Take]] = []
        for sale_id, takes in sorted(self.takes.items()):
            for take in takes:
                stored_take = self._stored_takes.get((sale_id, take.lot_id))
                if stored_take is None:
                    new_takes.append((sale_id, self._take_owner[sale_id], take))
                elif stored_take != take:
                    changed_takes.append((sale_id, take))
        await loyalty_repository.save_takes(self.conn, new_takes, changed_takes)
