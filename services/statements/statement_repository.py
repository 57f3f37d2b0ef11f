"""Statements made, their delivery state, and the requests waiting on a delivery."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing, encode_replies
from services.statements.domain.aging import Aging
from services.statements.domain.delivery import DeliveryState
from services.statements.domain.schedule import Period
from services.statements.ledger_repository import utc
from services.statements.tables import runtime, statement_requests, statements
from shared.money import from_minor, to_minor
from shared.topics import STATEMENT_REQUESTS

_AGING_COLUMNS = {
    "current": "aging_current",
    "d1_30": "aging_1_30",
    "d31_60": "aging_31_60",
    "d61_90": "aging_61_90",
    "over_90": "aging_over_90",
}
_MONEY_COLUMNS = ("opening_balance", "closing_balance", "amount_due")


@dataclass(frozen=True)
class StatementRecord:
    statement_id: str
    account_number: str
    period: Period
    currency: str
    opening_balance: Decimal
    closing_balance: Decimal
    amount_due: Decimal
    due_date: date
    aging: Aging
    subject: str
    body_text: str
    body_html: str
    pdf: bytes
    message_id: str
    origin: str
    status: DeliveryState
    delivery_round: int
    announce_round: bool
    attempts: int
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None = None
    sending_until: datetime | None = None
    delivered_to: str | None = None
    detail: str | None = None
    sent_at: datetime | None = None


async def insert_statement(conn: AsyncConnection, record: StatementRecord) -> None:
    await conn.execute(insert(statements).values(_row(record)))


async def find_statement(
    conn: AsyncConnection, account_number: str, period_end: date
) -> StatementRecord | None:
    query = select(statements).where(
        statements.c.account_number == account_number, statements.c.period_end == period_end
    )
    row = (await conn.execute(query)).mappings().first()
    return _record(row) if row is not None else None


async def due_for_delivery(
    conn: AsyncConnection, now: datetime, limit: int
) -> list[StatementRecord]:
    query = (
        select(statements)
        .where(statements.c.status == "pending", statements.c.next_attempt_at <= now)
        .order_by(statements.c.next_attempt_at, statements.c.statement_id)
        .limit(limit)
    )
    return await _locked(conn, query)


async def stalled(conn: AsyncConnection, now: datetime, limit: int) -> list[StatementRecord]:
    """Statements left "sending" past their lease: their worker stopped mid-send."""
    query = (
        select(statements)
        .where(statements.c.status == "sending", statements.c.sending_until < now)
        .order_by(statements.c.sending_until, statements.c.statement_id)
        .limit(limit)
    )
    return await _locked(conn, query)


async def save_if_unchanged(
    conn: AsyncConnection, before: StatementRecord, after: StatementRecord
) -> bool:
    """Writes `after` only if the row is still as `before` left it (status, round, attempts):
    two workers can never both move one statement on."""
    table = statements
    result = await conn.execute(
        update(table)
        .where(
            table.c.statement_id == before.statement_id,
            table.c.status == before.status,
            table.c.delivery_round == before.delivery_round,
            table.c.attempts == before.attempts,
        )
        .values(_delivery_values(after))
    )
    return result.rowcount == 1


def next_round(record: StatementRecord, now: datetime, *, announce: bool) -> StatementRecord:
    """Delivery asked for (again): due now, with a fresh count of attempts."""
    return replace(
        record,
        status="pending",
        delivery_round=record.delivery_round + 1,
        announce_round=announce,
        attempts=0,
        next_attempt_at=now,
        sending_until=None,
        detail=None,
        updated_at=now,
    )


async def add_waiting_request(
    conn: AsyncConnection, request_event_id: str, record: StatementRecord, now: datetime
) -> None:
    await conn.execute(
        insert(statement_requests).values(
            request_event_id=request_event_id,
            statement_id=record.statement_id,
            delivery_round=record.delivery_round,
            received_at=now,
        )
    )


async def answer_waiting_requests(
    conn: AsyncConnection, record: StatementRecord, now: datetime
) -> list[str]:
    """The requests waiting for this delivery round, marked answered."""
    table = statement_requests
    waiting = (
        table.c.statement_id == record.statement_id,
        table.c.delivery_round == record.delivery_round,
        table.c.answered_at.is_(None),
    )
    rows = await conn.execute(
        select(table.c.request_event_id).where(*waiting).order_by(table.c.request_event_id)
    )
    ids = [row.request_event_id for row in rows]
    if ids:
        await conn.execute(
            update(table).where(*waiting, table.c.request_event_id.in_(ids)).values(answered_at=now)
        )
    return ids


async def remember_reply(conn: AsyncConnection, request_event_id: str, reply: Outgoing) -> None:
    """Stores a request's late answer as its reply in the inbox, so that the same request
    delivered again publishes it again (the contract: a repeated message's reply is)."""
    processed = runtime.processed
    await conn.execute(
        update(processed)
        .where(
            processed.c.source == STATEMENT_REQUESTS,
            processed.c.message_id == request_event_id,
        )
        .values(replies=encode_replies([reply]))
    )


async def _locked(conn: AsyncConnection, query: Any) -> list[StatementRecord]:
    if conn.dialect.name == "postgresql":
        # Replicas take different rows; SQLite has a single writer anyway.
        query = query.with_for_update(skip_locked=True)
    rows = (await conn.execute(query)).mappings().all()
    return [_record(row) for row in rows]


def _delivery_values(record: StatementRecord) -> dict[str, object]:
    return {
        "status": record.status,
        "delivery_round": record.delivery_round,
        "announce_round": record.announce_round,
        "attempts": record.attempts,
        "next_attempt_at": record.next_attempt_at,
        "sending_until": record.sending_until,
        "delivered_to": record.delivered_to,
        "detail": record.detail,
        "updated_at": record.updated_at,
        "sent_at": record.sent_at,
    }


def _row(record: StatementRecord) -> dict[str, object]:
    return {
        "statement_id": record.statement_id,
        "account_number": record.account_number,
        "period_start": record.period.start,
        "period_end": record.period.end,
        "currency": record.currency,
        **{name: to_minor(getattr(record, name)) for name in _MONEY_COLUMNS},
        "due_date": record.due_date,
        **{
            column: to_minor(getattr(record.aging, name)) for name, column in _AGING_COLUMNS.items()
        },
        "subject": record.subject,
        "body_text": record.body_text,
        "body_html": record.body_html,
        "pdf": record.pdf,
        "message_id": record.message_id,
        "origin": record.origin,
        "created_at": record.created_at,
        **_delivery_values(record),
    }


def _record(row: Any) -> StatementRecord:
    return StatementRecord(
        statement_id=row["statement_id"],
        account_number=row["account_number"],
        period=Period(row["period_start"], row["period_end"]),
        currency=row["currency"],
        opening_balance=from_minor(row["opening_balance"]),
        closing_balance=from_minor(row["closing_balance"]),
        amount_due=from_minor(row["amount_due"]),
        due_date=row["due_date"],
        aging=Aging(**{name: from_minor(row[column]) for name, column in _AGING_COLUMNS.items()}),
        subject=row["subject"],
        body_text=row["body_text"],
        body_html=row["body_html"],
        pdf=bytes(row["pdf"]),
        message_id=row["message_id"],
        origin=row["origin"],
        status=row["status"],
        delivery_round=row["delivery_round"],
        announce_round=row["announce_round"],
        attempts=row["attempts"],
        delivered_to=row["delivered_to"],
        detail=row["detail"],
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        next_attempt_at=_maybe_utc(row["next_attempt_at"]),
        sending_until=_maybe_utc(row["sending_until"]),
        sent_at=_maybe_utc(row["sent_at"]),
    )


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None
