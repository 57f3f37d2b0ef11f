"""The CRM worker's topic handlers: parse, load one unit of work per run, apply in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing, Record
from services.crm.handlers import CrmHandlers
from services.crm.unit_of_work import CrmUnitOfWork
from services.crm.views import TouchedCustomers
from shared.account_events import AccountEvent, AccountOpened, account_event_adapter
from shared.customers import CustomerUpsert
from shared.sales import SaleEvent
from shared.topics import ACCOUNT_EVENTS, CRM_CUSTOMERS, POS_SALES


class CustomerChanges:
    topic = CRM_CUSTOMERS

    def __init__(self, handlers: CrmHandlers, touched: TouchedCustomers) -> None:
        self._handlers = handlers
        self._touched = touched

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
        results = [self._handlers.change_customer(uow, change, now) for change in messages]
        await uow.flush(now)
        self._touched.add(uow.dirty)
        return results


class Sales:
    """Sales with a customer, paid any way, build the customer's history and points."""

    topic = POS_SALES

    def __init__(self, handlers: CrmHandlers, touched: TouchedCustomers) -> None:
        self._handlers = handlers
        self._touched = touched

    def parse(self, raw: bytes) -> SaleEvent:
        return SaleEvent.model_validate_json(raw)

    def message_id(self, message: SaleEvent) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        return []  # the credit service answers the till; the CRM keeps the dead letter

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[SaleEvent], now: datetime
    ) -> list[list[Outgoing]]:
        handlers = self._handlers
        uow = await CrmUnitOfWork.load(
            conn,
            [m.customer_id for m in messages if m.stage == "completed" and m.customer_id],
            sale_ids=[_sale_in_question(m) for m in messages if m.stage != "authorize"],
            return_ids=[m.sale_id for m in messages if m.stage == "returned"],
            window_start=handlers.window_start(now),
        )
        results: list[list[Outgoing]] = []
        for sale in messages:
            if sale.stage == "completed":
                results.append(handlers.complete_sale(uow, sale, now))
            elif sale.stage == "voided":
                results.append(await handlers.void_sale(uow, sale, now))
            elif sale.stage == "returned":
                results.append(await handlers.return_sale(uow, sale, now))
            else:
                results.append([])  # an authorize is the credit service's business
        await uow.flush(now)
        self._touched.add(uow.dirty)
        return results


def _sale_in_question(sale: SaleEvent) -> str:
    return (
        sale.original_sale_id
        if sale.stage == "returned" and sale.original_sale_id
        else sale.sale_id
    )


class AccountEvents:
    """An account opened for a customer links the two: one person may be both."""

    topic = ACCOUNT_EVENTS

    def __init__(self, handlers: CrmHandlers, touched: TouchedCustomers) -> None:
        self._handlers = handlers
        self._touched = touched

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
        results = [
            self._handlers.open_account(uow, m, now)
            if isinstance(m, AccountOpened) and m.customer_id
            else []
            for m in messages
        ]
        await uow.flush(now)
        self._touched.add(uow.dirty)
        return results
