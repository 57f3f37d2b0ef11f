"""The CRM service: what it consumes and produces, and its handlers (the only wiring file)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.common.handler import TopicHandler
from services.common.kafka import TopicDoc
from services.common.service import ServiceContext, ServiceSpec
from services.crm.consumers import AccountEvents, CustomerChanges, Sales
from services.crm.tables import metadata, runtime
from shared.account_events import AccountEvent
from shared.customers import CustomerUpsert
from shared.loyalty import LoyaltyEvent
from shared.sales import SaleEvent
from shared.topics import ACCOUNT_EVENTS, CRM_CUSTOMERS, CRM_LOYALTY, POS_SALES


def _handlers(context: ServiceContext) -> Mapping[str, TopicHandler[Any]]:
    return {CRM_CUSTOMERS: CustomerChanges(), POS_SALES: Sales(), ACCOUNT_EVENTS: AccountEvents()}


SPEC = ServiceSpec(
    name="crm",
    title="Tabs CRM service",
    version="1.0.0",
    metadata=metadata,
    tables=runtime,
    migrations=Path(__file__).parent / "migrations",
    consumes=[
        TopicDoc(CRM_CUSTOMERS, CustomerUpsert, "customer details and consent, as upserts"),
        TopicDoc(POS_SALES, SaleEvent, "completed sales build each customer's history"),
        TopicDoc(ACCOUNT_EVENTS, AccountEvent, "accounts opened for customers link the two"),
    ],
    produces=[
        TopicDoc(CRM_LOYALTY, LoyaltyEvent, "loyalty points earned, redeemed, reversed, expired"),
    ],
    handlers=_handlers,
)
