"""The inbox: which message ids a service has applied, and what they replied."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.bulk import Writes, insert_many, one_of
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
        if conn.dialect.name == "postgresql":
            # Two arrays, the same statement for any batch; a pair across them that was not
            # asked for (an id used on two topics) is dropped below.
            where = and_(
                one_of(conn, table.c.source, {s for s, _ in wanted}),
                one_of(conn, table.c.message_id, [m for _, m in wanted]),
            )
        else:
            where = tuple_(table.c.source, table.c.message_id).in_(wanted)
        rows = await conn.execute(
            select(table.c.source, table.c.message_id, table.c.replies).where(where)
        )
        asked = set(wanted)
        return {
            (row.source, row.message_id): decode_replies(row.replies)
            for row in rows
            if (row.source, row.message_id) in asked
        }

    async def record(
        self,
        conn: AsyncConnection,
        applied: Sequence[tuple[MessageKey, list[Outgoing]]],
        now: datetime,
        *,
        writes: Writes | None = None,
    ) -> None:
        """Claims the keys in the caller's transaction: a concurrent claim fails the commit.
        With `writes`, the claims are added to them, to be written with the batch's effects."""
        rows = [
            {"source": s, "message_id": m, "replies": encode_replies(r), "processed_at": now}
            for (s, m), r in applied
        ]
        if writes is not None:
            writes.insert(self._table, rows)
        else:
            await insert_many(conn, self._table, rows)
