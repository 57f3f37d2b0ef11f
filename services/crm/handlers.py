"""One function per message kind: message in, domain calls, loyalty events out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.common.errors import Unprocessable
from services.common.messages import Outgoing
from services.crm.domain.audience import needs_sync, new_consent
from services.crm.domain.customers import (
    Customer,
    cancel_purchase,
    link_account,
    record_purchase,
    return_purchase,
    set_tier,
    upsert,
)
from services.crm.domain.earning import points_earned, points_refunded, points_to_redeem
from services.crm.domain.points import InsufficientPoints, earn, give_back, redeem, take_back
from services.crm.domain.program import LoyaltyProgram
from services.crm.domain.purchases import Purchase, Reversal, return_goods, void
from services.crm.messages import loyalty_event
from services.crm.unit_of_work import CrmUnitOfWork
from shared.account_events import AccountOpened
from shared.customers import CustomerUpsert
from shared.sales import SaleEvent


class CrmHandlers:
    def __init__(self, program: LoyaltyProgram, business_tz: ZoneInfo) -> None:
        self.program = program
        self._tz = business_tz

    def window_start(self, now: datetime) -> datetime:
        return now - timedelta(days=self.program.tier_window_days)

    def change_customer(
        self, uow: CrmUnitOfWork, change: CustomerUpsert, now: datetime
    ) -> list[Outgoing]:
        before = uow.get(change.customer_id)
        after = upsert(before, change.customer_id, change.changes(), now)
        uow.put(after)
        if needs_sync(before, after):
            uow.sync_audience(after.customer_id, new_consent(before, after))
        return []

    def open_account(
        self, uow: CrmUnitOfWork, event: AccountOpened, now: datetime
    ) -> list[Outgoing]:
        assert event.customer_id is not None
        uow.put(
            link_account(uow.get(event.customer_id), event.customer_id, event.account_number, now)
        )
        return []

    def complete_sale(self, uow: CrmUnitOfWork, sale: SaleEvent, now: datetime) -> list[Outgoing]:
        """Redeems the `points` tender (all or nothing), then earns on the other tenders."""
        customer_id = sale.customer_id
        if customer_id is None or sale.sale_id in uow.purchases or sale.sale_id in uow.voided_early:
            return []  # no customer, counted before, or cancelled before it was completed
        customer = uow.get(customer_id) or Customer(customer_id=customer_id, updated_at=now)
        account = uow.points(customer_id)
        at = now.astimezone(sale.occurred_at.tzinfo)
        occurred_at = sale.occurred_at.astimezone(UTC)
        out: list[Outgoing] = []
        redeemed = points_to_redeem(self.program, sale.points_amount())
        if redeemed:
            try:
                account, takes = redeem(account, redeemed)
            except InsufficientPoints as short:
                # The contract: the sale is invalid if the balance is short. Nothing of it is
                # applied (no spend, no points): it goes to the dead letters with this reason.
                raise Unprocessable(
                    f"sale {sale.sale_id}: a points tender of {sale.points_amount()} redeems "
                    f"{short.wanted} points, customer {customer_id} has {short.balance}"
                ) from short
            uow.record_takes(sale.sale_id, customer_id, takes)
            out.append(
                loyalty_event(
                    "points_redeemed",
                    cause=sale.event_id,
                    customer_id=customer_id,
                    points=-redeemed,
                    balance=account.balance,
                    at=at,
                    sale_id=sale.sale_id,
                )
            )
        sale_day = sale.occurred_at.astimezone(self._tz).date()
        earned = points_earned(self.program, sale.tenders, sale.lines, sale_day, customer.birthday)
        if earned:
            expires_at = occurred_at + timedelta(days=self.program.expiry_days)
            account = earn(account, sale.sale_id, earned, occurred_at, expires_at)
            out.append(
                loyalty_event(
                    "points_earned",
                    cause=sale.event_id,
                    customer_id=customer_id,
                    points=earned,
                    balance=account.balance,
                    at=at,
                    sale_id=sale.sale_id,
                )
            )
        purchase = Purchase(
            sale.sale_id, customer_id, sale.total, sale.currency, occurred_at, earned, redeemed
        )
        uow.add_purchase(purchase)
        customer = record_purchase(customer, customer_id, sale.total, occurred_at, now)
        customer = uow.set_points(customer, account)
        if uow.in_window(purchase):
            uow.add_spend(customer_id, purchase.amount)
        return out + self._review_tier(uow, customer, sale, now)

    async def void_sale(self, uow: CrmUnitOfWork, sale: SaleEvent, now: datetime) -> list[Outgoing]:
        purchase = uow.purchases.get(sale.sale_id)
        if purchase is None:
            # Not counted (yet): remembered, so that a completion arriving after its void on
            # another partition counts nothing.
            uow.record_early_void(sale.sale_id, now)
            return []
        return await self._reverse(uow, sale, void(purchase, now), now)

    async def return_sale(
        self, uow: CrmUnitOfWork, sale: SaleEvent, now: datetime
    ) -> list[Outgoing]:
        original = sale.original_sale_id
        purchase = uow.purchases.get(original) if original else None
        if purchase is None or sale.sale_id in uow.seen_returns:
            return []
        uow.record_return(
            sale.sale_id, purchase.sale_id, sale.total, sale.occurred_at.astimezone(UTC)
        )
        back = points_refunded(self.program, sale.points_amount())
        return await self._reverse(uow, sale, return_goods(purchase, sale.total, back), now)

    async def _reverse(
        self, uow: CrmUnitOfWork, sale: SaleEvent, reversal: Reversal, now: datetime
    ) -> list[Outgoing]:
        before = uow.purchases[reversal.purchase.sale_id]
        if reversal.purchase == before:
            return []
        uow.update_purchase(reversal.purchase)
        customer_id = before.customer_id
        customer = uow.get(customer_id)
        assert customer is not None, "a counted purchase has its customer"
        account = uow.points(customer_id)
        at = now.astimezone(sale.occurred_at.tzinfo)
        out: list[Outgoing] = []
        if reversal.give_back:
            account, takes = give_back(
                account, uow.takes.get(before.sale_id, []), reversal.give_back
            )
            uow.record_takes(before.sale_id, customer_id, takes)
            out.append(
                loyalty_event(
                    "points_reversed",
                    cause=sale.event_id,
                    part="redeemed",
                    customer_id=customer_id,
                    points=reversal.give_back,
                    balance=account.balance,
                    at=at,
                    sale_id=sale.sale_id,
                )
            )
        if reversal.take_back:
            account = take_back(account, reversal.take_back, own_lot=before.sale_id)
            out.append(
                loyalty_event(
                    "points_reversed",
                    cause=sale.event_id,
                    part="earned",
                    customer_id=customer_id,
                    points=-reversal.take_back,
                    balance=account.balance,
                    at=at,
                    sale_id=sale.sale_id,
                )
            )
        customer = uow.set_points(customer, account)
        if sale.stage == "voided":
            latest = await uow.latest_purchase(customer_id)
            customer = cancel_purchase(customer, reversal.spend_reduced, latest, now)
        else:
            customer = return_purchase(customer, reversal.spend_reduced, now)
        uow.put(customer)
        if uow.in_window(before):
            uow.add_spend(customer_id, -reversal.spend_reduced)
        return out + self._review_tier(uow, customer, sale, now)

    def _review_tier(
        self, uow: CrmUnitOfWork, customer: Customer, sale: SaleEvent, now: datetime
    ) -> list[Outgoing]:
        tier = self.program.tier_for(uow.rolling.get(customer.customer_id, Decimal("0")))
        if customer.tier == tier:
            return []
        uow.put(set_tier(customer, tier, now))
        if customer.tier is None and tier == self.program.base_tier:
            return []  # a first purchase joins the base tier: no change to announce
        return [
            loyalty_event(
                "tier_changed",
                cause=sale.event_id,
                customer_id=customer.customer_id,
                points=0,
                balance=uow.points(customer.customer_id).balance,
                at=now.astimezone(sale.occurred_at.tzinfo),
                sale_id=sale.sale_id,
                tier=tier,
            )
        ]
