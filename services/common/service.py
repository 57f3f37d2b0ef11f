"""What a service declares; the worker builds everything else from it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import Clock
from services.common.handler import TopicHandler
from services.common.kafka import TopicDoc
from services.common.outbox import OutboxRelay
from services.common.read_model import ReadModel, Views
from services.common.runtime_tables import RuntimeTables
from services.common.settings import RuntimeSettings


@dataclass(frozen=True)
class ServiceContext:
    """What handlers and HTTP routes of a running worker may use."""

    settings: RuntimeSettings
    engine: AsyncEngine
    clock: Clock
    read_model: ReadModel | None = None
    # Publishes outbox rows that background work committed (the pipeline publishes its own).
    relay: OutboxRelay | None = None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    version: str
    metadata: MetaData
    tables: RuntimeTables
    migrations: Path
    consumes: Sequence[TopicDoc]
    produces: Sequence[TopicDoc]
    handlers: Callable[[ServiceContext], Mapping[str, TopicHandler[Any]]]
    routes: Callable[[web.Application, ServiceContext], None] = field(
        default=lambda app, context: None
    )
    views: Callable[[RuntimeSettings], Views] | None = None
    # Background work a running worker owns besides consuming (a scheduler, a sync loop):
    # each is started after the consumer and cancelled when the worker stops.
    tasks: Callable[[ServiceContext], Sequence[Callable[[], Coroutine[Any, Any, None]]]] = field(
        default=lambda context: ()
    )

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name}"

    def group_id(self, settings: RuntimeSettings) -> str:
        return f"{settings.consumer_group_prefix}-{self.name}"
