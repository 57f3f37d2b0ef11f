"""The CRM service: what it consumes and produces, its handlers, look-ups and background work
(the only wiring file)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from services.common.handler import TopicHandler
from services.common.kafka import TopicDoc
from services.common.outbox import Outbox
from services.common.service import ServiceContext, ServiceSpec
from services.common.settings import RuntimeSettings
from services.crm.consumers import AccountEvents, CustomerChanges, Sales
from services.crm.handlers import CrmHandlers
from services.crm.http import add_routes
from services.crm.loyalty_sweep import LoyaltySweep
from services.crm.mailchimp.setup import build_mailchimp
from services.crm.mailchimp.sync_loop import SyncLoop
from services.crm.settings import CrmSettings
from services.crm.tables import metadata, runtime
from services.crm.views import CustomerViews, TouchedCustomers
from shared.account_events import AccountEvent
from shared.customers import CustomerUpsert
from shared.loyalty import LoyaltyEvent
from shared.sales import SaleEvent
from shared.topics import ACCOUNT_EVENTS, CRM_CUSTOMERS, CRM_LOYALTY, POS_SALES

log = logging.getLogger(__name__)

Task = Callable[[], Coroutine[Any, Any, None]]


def _settings(settings: RuntimeSettings) -> CrmSettings:
    # Tests and `tabs asyncapi` may hand over the runtime's settings alone: the CRM's own keep
    # their defaults then.
    if isinstance(settings, CrmSettings):
        return settings
    return CrmSettings.model_validate(settings.model_dump(by_alias=True))


def _touched(context: ServiceContext) -> TouchedCustomers:
    views = context.read_model.views if context.read_model is not None else None
    return views.touched if isinstance(views, CustomerViews) else TouchedCustomers()


def _handlers(context: ServiceContext) -> Mapping[str, TopicHandler[Any]]:
    settings = _settings(context.settings)
    handlers = CrmHandlers(settings.loyalty_rules, ZoneInfo(settings.business_timezone))
    touched = _touched(context)
    return {
        CRM_CUSTOMERS: CustomerChanges(handlers, touched),
        POS_SALES: Sales(handlers, touched),
        ACCOUNT_EVENTS: AccountEvents(handlers, touched),
    }


def _views(settings: RuntimeSettings) -> CustomerViews:
    return CustomerViews(_settings(settings).loyalty_rules.base_tier)


def _tasks(context: ServiceContext) -> Sequence[Task]:
    settings = _settings(context.settings)
    sweep = LoyaltySweep(
        context.engine,
        Outbox(runtime),
        context.relay,
        context.read_model,
        settings.loyalty_rules,
        context.clock,
        ZoneInfo(settings.business_timezone),
        interval_s=settings.loyalty_sweep_interval_s,
        batch_max=settings.loyalty_sweep_batch_max,
    )
    return [sweep.run, _audience_sync(context, settings)]


def _audience_sync(context: ServiceContext, settings: CrmSettings) -> Task:
    async def sync_audience() -> None:
        if not settings.mailchimp_configured:
            # Changes keep queueing; they go out once MAILCHIMP_* are set and a worker starts.
            log.warning("MAILCHIMP_API_KEY or MAILCHIMP_AUDIENCE_ID unset: audience sync off")
            return
        mailchimp = build_mailchimp(settings)
        try:
            await SyncLoop(
                context.engine, mailchimp, settings, context.clock, context.read_model
            ).run()
        finally:
            await mailchimp.close()

    return sync_audience


SPEC = ServiceSpec(
    name="crm",
    title="Tabs CRM service",
    version="1.0.0",
    metadata=metadata,
    tables=runtime,
    migrations=Path(__file__).parent / "migrations",
    consumes=[
        TopicDoc(CRM_CUSTOMERS, CustomerUpsert, "customer details and consent, as upserts"),
        TopicDoc(
            POS_SALES,
            SaleEvent,
            "completed, voided and returned sales build each customer's history and points",
        ),
        TopicDoc(ACCOUNT_EVENTS, AccountEvent, "accounts opened for customers link the two"),
    ],
    produces=[
        TopicDoc(
            CRM_LOYALTY,
            LoyaltyEvent,
            "loyalty points earned, redeemed, reversed, expired, and tier changes",
        ),
    ],
    handlers=_handlers,
    routes=add_routes,
    views=_views,
    tasks=_tasks,
)
