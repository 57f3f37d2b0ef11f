"""The inbox: which message ids a service has applied, and what they replied."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing, decode_replies, encode_replies
from services.common.runtime_tables import RuntimeTables

MessageKey = tuple[str, str]


class Inbox:
    def __init__(self, tables: RuntimeTables) -> None:
        self._table = tables.processed

    async def find(
        self, conn: AsyncConnection, keys: Iterable[MessageKey]
    ) -> dict[MessageKey, list[Outgoing]]:
        """The stored replies of the keys that were applied before."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        table = self._table
        rows = await conn.execute(
            select(table.c.source, table.c.message_id, table.c.replies).where(
                tuple_(table.c.source, table.c.message_id).in_(wanted)
            )
        )
        return {(row.source, row.message_id): decode_replies(row.replies) for row in rows}

    async def record(
        self,
        conn: AsyncConnection,
        applied: Sequence[tuple[MessageKey, list[Outgoing]]],
        now: datetime,
    ) -> None:
        """Claims the keys in the caller's transaction: a concurrent claim fails the commit."""
        if not applied:
            return
        await conn.execute(
            insert(self._table),
            [
                {"source": s, "message_id": m, "replies": encode_replies(r), "processed_at": now}
                for (s, m), r in applied
            ],
        )
