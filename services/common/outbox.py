"""The outbox: messages written in the transaction of their effect, published after commit.

A crash after the commit and before publishing leaves the rows in place; the relay's sweep
publishes them on the next start (or from another replica), so a committed effect always has
its messages. A crash after publishing and before the delete publishes them twice, with the
same ids: consumers are idempotent by id, which the contract requires anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.clock import Clock
from services.common.messages import Outgoing
from services.common.runtime_tables import RuntimeTables

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
OutboxRow = tuple[int, Outgoing]


class Outbox:
    def __init__(self, tables: RuntimeTables) -> None:
        self._table = tables.outbox

    async def add(
        self, conn: AsyncConnection, messages: Sequence[Outgoing], now: datetime
    ) -> list[OutboxRow]:
        if not messages:
            return []
        table = self._table
        result = await conn.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [
                {"topic": m.topic, "key": m.key, "value": m.value, "created_at": now}
                for m in messages
            ],
        )
        ids = [row[0] for row in result]
        return list(zip(ids, messages, strict=True))

    async def remove(self, conn: AsyncConnection, ids: Sequence[int]) -> None:
        if ids:
            await conn.execute(delete(self._table).where(self._table.c.id.in_(list(ids))))

    async def older_than(
        self, conn: AsyncConnection, moment: datetime, limit: int
    ) -> list[OutboxRow]:
        table = self._table
        query = (
            select(table.c.id, table.c.topic, table.c.key, table.c.value)
            .where(table.c.created_at <= moment)
            .order_by(table.c.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            # Two replicas sweeping at once each take different rows.
            query = query.with_for_update(skip_locked=True)
        rows = await conn.execute(query)
        return [(r.id, Outgoing(r.topic, r.key, r.value)) for r in rows]


class OutboxRelay:
    """Publishes outbox rows: right after each commit, and in a sweep for rows left behind."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Outbox,
        publish: Publish,
        clock: Clock,
        *,
        sweep_interval_s: float = 1.0,
        sweep_age_s: float = 5.0,
        sweep_batch_max: int = 1000,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._publish = publish
        self._clock = clock
        self._sweep_interval_s = sweep_interval_s
        self._sweep_age_s = sweep_age_s
        self._sweep_batch_max = sweep_batch_max

    async def publish(self, rows: Sequence[OutboxRow]) -> None:
        """Publishes rows just committed, then deletes them; a failure leaves them to the sweep."""
        if not rows:
            return
        try:
            await self._publish([message for _, message in rows])
        except Exception:
            log.warning(
                "publishing %d outbox messages failed; the sweep will retry",
                len(rows),
                exc_info=True,
            )
            return
        async with self._engine.begin() as conn:
            await self._outbox.remove(conn, [row_id for row_id, _ in rows])

    async def sweep(self, *, age_s: float | None = None) -> int:
        """Publishes rows older than the sweep age; returns how many it published."""
        cutoff = self._clock.now() - timedelta(
            seconds=self._sweep_age_s if age_s is None else age_s
        )
        published = 0
        while True:
            async with self._engine.begin() as conn:
                rows = await self._outbox.older_than(conn, cutoff, self._sweep_batch_max)
                if not rows:
                    return published
                await self._publish([message for _, message in rows])
                await self._outbox.remove(conn, [row_id for row_id, _ in rows])
            published += len(rows)

    async def run(self) -> None:
        """The sweep loop: runs until cancelled, logging and retrying what fails."""
        while True:
            try:
                swept = await self.sweep()
                if swept:
                    log.info("outbox sweep published %d messages left behind", swept)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox sweep failed; retrying", exc_info=True)
            await asyncio.sleep(self._sweep_interval_s)
