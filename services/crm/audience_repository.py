"""The Mailchimp sync queue and the CRM's record of each customer's member: the only SQL of the
audience sync."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.crm.domain.audience import MemberRecord, MemberStatus, StatusSource, subscriber_hash
from services.crm.repository import aware
from services.crm.tables import mailchimp_members, mailchimp_sync_queue

SyncState = Literal["synced", "failed"]


@dataclass(frozen=True)
class QueuedSync:
    customer_id: str
    version: int
    resubscribe: bool
    attempts: int
    last_error: str | None = None


@dataclass(frozen=True)
class MemberState:
    customer_id: str
    record: MemberRecord
    state: SyncState
    error: str | None = None
    synced_at: datetime | None = None
    attempted_at: datetime | None = None


def _insert(conn: AsyncConnection, table: Table) -> Any:
    # Both databases have INSERT ... ON CONFLICT; SQLAlchemy spells it per dialect.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def enqueue(conn: AsyncConnection, customers: dict[str, bool], now: datetime) -> None:
    """Queues each customer (value: consent was just given); a queued one coalesces."""
    if not customers:
        return
    q = mailchimp_sync_queue
    statement = _insert(conn, q)
    statement = statement.on_conflict_do_update(
        index_elements=[q.c.customer_id],
        set_={
            "version": q.c.version + 1,
            "resubscribe": or_(q.c.resubscribe, statement.excluded.resubscribe),
            "enqueued_at": statement.excluded.enqueued_at,
        },
    )
    await conn.execute(
        statement,
        [
            {
                "customer_id": customer_id,
                "version": 1,
                "resubscribe": resubscribe,
                "enqueued_at": now,
                "attempts": 0,
            }
            for customer_id, resubscribe in sorted(customers.items())
        ],
    )


def _queued(row: Row[tuple[object, ...]]) -> QueuedSync:
    m = row._mapping
    return QueuedSync(
        m["customer_id"], m["version"], bool(m["resubscribe"]), m["attempts"], m["last_error"]
    )


async def claim(
    conn: AsyncConnection, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[QueuedSync]:
    """Leases up to `limit` due rows to `owner`; another worker's live lease is skipped."""
    q = mailchimp_sync_queue.c
    query = (
        select(mailchimp_sync_queue)
        .where(
            or_(q.leased_until.is_(None), q.leased_until < now),
            or_(q.next_attempt_at.is_(None), q.next_attempt_at <= now),
        )
        .order_by(q.attempts, q.enqueued_at, q.customer_id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = [_queued(row) for row in await conn.execute(query)]
    if claimed:
        await conn.execute(
            update(mailchimp_sync_queue)
            .where(q.customer_id.in_([c.customer_id for c in claimed]))
            .values(lease_owner=owner, leased_until=lease_until)
        )
    return claimed


async def finish(conn: AsyncConnection, done: Sequence[QueuedSync]) -> None:
    """Removes the rows that were synced; a row changed since its claim stays, due again."""
    q = mailchimp_sync_queue.c
    for item in done:
        await conn.execute(
            delete(mailchimp_sync_queue).where(
                and_(q.customer_id == item.customer_id, q.version == item.version)
            )
        )
    if done:
        await conn.execute(
            update(mailchimp_sync_queue)
            .where(q.customer_id.in_([item.customer_id for item in done]))
            .values(lease_owner=None, leased_until=None, attempts=0, next_attempt_at=None)
        )


async def retry_later(
    conn: AsyncConnection, failed: Sequence[tuple[QueuedSync, datetime, str]]
) -> None:
    q = mailchimp_sync_queue.c
    for item, next_attempt_at, error in failed:
        await conn.execute(
            update(mailchimp_sync_queue)
            .where(q.customer_id == item.customer_id)
            .values(
                attempts=q.attempts + 1,
                next_attempt_at=next_attempt_at,
                last_error=error,
                lease_owner=None,
                leased_until=None,
            )
        )


async def release(conn: AsyncConnection, owner: str) -> None:
    """Gives back the rows a stopping worker still leases, so another can take them at once."""
    q = mailchimp_sync_queue.c
    await conn.execute(
        update(mailchimp_sync_queue)
        .where(q.lease_owner == owner)
        .values(lease_owner=None, leased_until=None)
    )


async def queued(conn: AsyncConnection, customer_ids: Iterable[str]) -> dict[str, QueuedSync]:
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(mailchimp_sync_queue).where(mailchimp_sync_queue.c.customer_id.in_(wanted))
    )
    return {row.customer_id: _queued(row) for row in rows}


async def queue_length(conn: AsyncConnection) -> int:
    rows = await conn.execute(select(mailchimp_sync_queue.c.customer_id))
    return len(rows.all())


def _member(row: Row[tuple[object, ...]]) -> MemberState:
    m = row._mapping
    record = MemberRecord(
        email=m["email"],
        status=cast(MemberStatus | None, m["status"]),
        status_source=cast(StatusSource | None, m["status_source"]),
        tags=tuple(m["tags"]),
    )
    return MemberState(
        customer_id=m["customer_id"],
        record=record,
        state=cast(SyncState, m["state"]),
        error=m["error"],
        synced_at=aware(m["synced_at"]),
        attempted_at=aware(m["attempted_at"]),
    )


async def load_members(
    conn: AsyncConnection, customer_ids: Iterable[str]
) -> dict[str, MemberState]:
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(mailchimp_members).where(mailchimp_members.c.customer_id.in_(wanted))
    )
    return {row.customer_id: _member(row) for row in rows}


async def all_members(conn: AsyncConnection) -> dict[str, MemberState]:
    rows = await conn.execute(select(mailchimp_members))
    return {row.customer_id: _member(row) for row in rows}


async def customer_ids_of_member(conn: AsyncConnection, email: str) -> list[str]:
    rows = await conn.execute(
        select(mailchimp_members.c.customer_id).where(
            mailchimp_members.c.subscriber_hash == subscriber_hash(email)
        )
    )
    return [row.customer_id for row in rows]


async def save_members(conn: AsyncConnection, states: Sequence[MemberState]) -> None:
    if not states:
        return
    m = mailchimp_members
    statement = _insert(conn, m)
    columns = ("email", "subscriber_hash", "status", "status_source", "tags", "state", "error")
    statement = statement.on_conflict_do_update(
        index_elements=[m.c.customer_id],
        set_={
            **{name: statement.excluded[name] for name in columns},
            "synced_at": statement.excluded.synced_at,
            "attempted_at": statement.excluded.attempted_at,
        },
    )
    await conn.execute(
        statement,
        [
            {
                "customer_id": s.customer_id,
                "email": s.record.email,
                "subscriber_hash": subscriber_hash(s.record.email) if s.record.email else None,
                "status": s.record.status,
                "status_source": s.record.status_source,
                "tags": list(s.record.tags),
                "state": s.state,
                "error": s.error,
                "synced_at": s.synced_at,
                "attempted_at": s.attempted_at,
            }
            for s in sorted(states, key=lambda s: s.customer_id)
        ],
    )
