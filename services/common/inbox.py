"""The inbox: which message ids a service has applied, and what they replied."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, Table, bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.bulk import Writes, any_of, insert_many, is_postgresql
from services.common.messages import Outgoing, decode_replies, encode_replies
from services.common.runtime_tables import RuntimeTables

MessageKey = tuple[str, str]


@dataclass(frozen=True)
class Claims:
    """The claims a run of one topic's messages would make, for a handler's read to look up in
    its own statement (PostgreSQL): `SELECT message_id, replies FROM <table> WHERE source =
    <topic> AND message_id = ANY(<ids>)`; `stored` decodes what it found."""

    table: str
    topic: str
    message_ids: list[str]

    def stored(self, found: Iterable[tuple[str, bytes]]) -> dict[str, list[Outgoing]]:
        return {message_id: decode_replies(replies) for message_id, replies in found}


class Inbox:
    def __init__(self, tables: RuntimeTables) -> None:
        self._table = tables.processed

    def claims(self, topic: str, message_ids: Iterable[str]) -> Claims:
        return Claims(self._table.name, topic, sorted(set(message_ids)))

    async def find(
        self, conn: AsyncConnection, keys: Iterable[MessageKey]
    ) -> dict[MessageKey, list[Outgoing]]:
        """The stored replies of the keys that were applied before."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        if is_postgresql(conn):
            # Two arrays, the same statement for any batch; a pair across them that was not
            # asked for (an id used on two topics) is dropped below.
            rows = await conn.execute(
                _find_in_arrays(self._table),
                {"sources": list({s for s, _ in wanted}), "ids": [m for _, m in wanted]},
            )
        else:
            rows = await conn.execute(_find_pairs(self._table), {"pairs": wanted})
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


@cache
def _find_in_arrays(table: Table) -> Select[tuple[str, str, bytes]]:
    return select(table.c.source, table.c.message_id, table.c.replies).where(
        any_of(table.c.source, "sources", postgresql=True),
        any_of(table.c.message_id, "ids", postgresql=True),
    )


@cache
def _find_pairs(table: Table) -> Select[tuple[str, str, bytes]]:
    pair = tuple_(table.c.source, table.c.message_id)
    return select(table.c.source, table.c.message_id, table.c.replies).where(
        pair.in_(bindparam("pairs", expanding=True))
    )
