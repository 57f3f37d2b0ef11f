"""The CRM worker's topic handlers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing, Record
from services.crm.domain.customers import link_account, record_purchase, upsert
from services.crm.unit_of_work import CrmUnitOfWork
from shared.account_events import AccountEvent, AccountOpened, account_event_adapter
from shared.customers import CustomerUpsert
from shared.sales import SaleEvent
from shared.topics import ACCOUNT_EVENTS, CRM_CUSTOMERS, POS_SALES


class CustomerChanges:
    topic = CRM_CUSTOMERS

    def parse(self, raw: bytes) -> CustomerUpsert:
        return CustomerUpsert.model_validate_json(raw)

    def message_id(self, message: CustomerUpsert) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        return []  # crm.customers.v1 has no reply topic: the dead letter is the record

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[CustomerUpsert], now: datetime
    ) -> list[list[Outgoing]]:
        uow = await CrmUnitOfWork.load(conn, [m.customer_id for m in messages])
        for change in messages:
            uow.put(upsert(uow.get(change.customer_id), change.customer_id, change.changes(), now))
        await uow.flush()
        return [[] for _ in messages]


class Sales:
    """Completed sales with a customer, paid any way, build the customer's history."""

    topic = POS_SALES

    def parse(self, raw: bytes) -> SaleEvent:
        return SaleEvent.model_validate_json(raw)

    def message_id(self, message: SaleEvent) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        return []  # the credit service answers the till; the CRM keeps the dead letter

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[SaleEvent], now: datetime
    ) -> list[list[Outgoing]]:
        counted = [m for m in messages if m.stage == "completed" and m.customer_id]
        uow = await CrmUnitOfWork.load(
            conn, [m.customer_id for m in counted if m.customer_id], [m.sale_id for m in counted]
        )
        for sale in counted:
            assert sale.customer_id is not None
            if uow.count_sale(
                sale.sale_id, sale.customer_id, sale.total, sale.currency, sale.occurred_at
            ):
                uow.put(
                    record_purchase(
                        uow.get(sale.customer_id),
                        sale.customer_id,
                        sale.total,
                        sale.occurred_at,
                        now,
                    )
                )
        await uow.flush()
        return [[] for _ in messages]


class AccountEvents:
    """An account opened for a customer links the two: one person may be both."""

    topic = ACCOUNT_EVENTS

    def parse(self, raw: bytes) -> AccountEvent:
        return account_event_adapter.validate_json(raw)

    def message_id(self, message: AccountEvent) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        return []

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[AccountEvent], now: datetime
    ) -> list[list[Outgoing]]:
        opened = [m for m in messages if isinstance(m, AccountOpened) and m.customer_id]
        uow = await CrmUnitOfWork.load(conn, [m.customer_id for m in opened if m.customer_id])
        for event in opened:
            assert event.customer_id is not None
            uow.put(
                link_account(
                    uow.get(event.customer_id), event.customer_id, event.account_number, now
                )
            )
        await uow.flush()
        return [[] for _ in messages]
