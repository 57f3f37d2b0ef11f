"""The credit service: what it consumes and produces, and its handlers (the only wiring file)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from services.common.handler import TopicHandler
from services.common.kafka import TopicDoc
from services.common.service import ServiceContext, ServiceSpec
from services.credit.consumers import AccountCommands, SaleEvents
from services.credit.handlers import CreditHandlers
from services.credit.http import add_routes
from services.credit.settings import CreditSettings, default_rating_limits
from services.credit.tables import metadata, runtime
from services.credit.views import AccountViews
from shared.account_events import AccountEvent
from shared.commands import AccountCommand
from shared.decisions import CreditDecision
from shared.sales import SaleEvent
from shared.topics import ACCOUNT_COMMANDS, ACCOUNT_EVENTS, CREDIT_DECISIONS, POS_SALES


def _handlers(context: ServiceContext) -> Mapping[str, TopicHandler[Any]]:
    settings = context.settings
    limits = (
        settings.credit_rating_limits
        if isinstance(settings, CreditSettings)
        else default_rating_limits()
    )
    handlers = CreditHandlers(ZoneInfo(settings.business_timezone), limits)
    return {POS_SALES: SaleEvents(handlers), ACCOUNT_COMMANDS: AccountCommands(handlers)}


SPEC = ServiceSpec(
    name="credit",
    title="Tabs credit service",
    version="1.0.0",
    metadata=metadata,
    tables=runtime,
    migrations=Path(__file__).parent / "migrations",
    consumes=[
        TopicDoc(ACCOUNT_COMMANDS, AccountCommand, "back-office commands on accounts"),
        TopicDoc(POS_SALES, SaleEvent, "sale events from tills; credit acts on account tenders"),
    ],
    produces=[
        TopicDoc(CREDIT_DECISIONS, CreditDecision, "the answer to each authorize"),
        TopicDoc(
            ACCOUNT_EVENTS,
            AccountEvent,
            "account facts: opened, changed, entries, rejected commands",
        ),
    ],
    handlers=_handlers,
    routes=add_routes,
    views=lambda settings: AccountViews(),
)
