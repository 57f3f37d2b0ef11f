"""The statements service: what it consumes and produces (the only wiring file)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.common.handler import TopicHandler
from services.common.kafka import TopicDoc
from services.common.service import ServiceContext, ServiceSpec
from services.statements.consumers import AccountEvents
from services.statements.tables import metadata, runtime
from shared.account_events import AccountEvent
from shared.statements import StatementSent
from shared.topics import ACCOUNT_EVENTS, STATEMENTS_SENT


def _handlers(context: ServiceContext) -> Mapping[str, TopicHandler[Any]]:
    return {ACCOUNT_EVENTS: AccountEvents()}


SPEC = ServiceSpec(
    name="statements",
    title="Tabs statements service",
    version="1.0.0",
    metadata=metadata,
    tables=runtime,
    migrations=Path(__file__).parent / "migrations",
    consumes=[
        TopicDoc(ACCOUNT_EVENTS, AccountEvent, "accounts and their entries, kept in its own store"),
    ],
    produces=[
        TopicDoc(STATEMENTS_SENT, StatementSent, "the outcome of every statement"),
    ],
    handlers=_handlers,
)
