"""A statements store without a worker: the real tables and the real event handler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.database import create_engine
from services.common.migrations import upgrade_to_head
from services.statements.app import SPEC
from services.statements.consumers import AccountEvents
from shared.account_events import AccountEvent
from tests.statements.harness import AUCKLAND


@asynccontextmanager
async def migrated(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine, SPEC.migrations, SPEC.version_table)
        yield engine
    finally:
        await engine.dispose()


async def apply(engine: AsyncEngine, events: Sequence[AccountEvent], now: datetime) -> None:
    """Applies events as the pipeline would, in one transaction."""
    async with engine.begin() as conn:
        await AccountEvents(AUCKLAND).apply(conn, events, now)
