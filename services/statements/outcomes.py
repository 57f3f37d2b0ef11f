"""statements.sent.v1: the outcome of a statement, built from what was recorded."""

from __future__ import annotations

from datetime import datetime

from services.common.ids import derived_id
from services.common.messages import Outgoing
from services.statements.domain.delivery import PUBLISHED_STATUS
from services.statements.statement_repository import StatementRecord
from shared.base import TEXT_CHARS_MAX
from shared.statements import Aging, StatementSent, StatementStatus
from shared.topics import STATEMENTS_SENT


def round_outcome(record: StatementRecord, now: datetime) -> Outgoing:
    """The outcome of a delivery round the schedule started (no request to answer)."""
    event_id = derived_id(
        "statement-outcome", record.statement_id, str(record.delivery_round), record.status
    )
    return _outcome(record, _published(record), record.detail, event_id, None, now)


def request_reply(
    record: StatementRecord,
    request_event_id: str,
    now: datetime,
    *,
    rendered: bool = False,
    detail: str | None = None,
) -> Outgoing:
    """The answer to one request: one per request, whenever its outcome is known. `rendered`
    answers a `deliver: false` request, whatever became of the statement's delivery."""
    event_id = derived_id("statement-reply", request_event_id)
    status: StatementStatus = "rendered" if rendered else _published(record)
    return _outcome(record, status, detail or record.detail, event_id, request_event_id, now)


def _published(record: StatementRecord) -> StatementStatus:
    status = PUBLISHED_STATUS.get(record.status)
    assert status is not None, f"{record.statement_id} is {record.status}, not an outcome"
    return status


def _outcome(
    record: StatementRecord,
    status: StatementStatus,
    detail: str | None,
    event_id: str,
    request_event_id: str | None,
    now: datetime,
) -> Outgoing:
    aging = record.aging
    detail = detail[:TEXT_CHARS_MAX] if detail else None
    message = StatementSent(
        event_id=event_id,
        account_number=record.account_number,
        statement_id=record.statement_id,
        period_start=record.period.start,
        period_end=record.period.end,
        opening_balance=record.opening_balance,
        closing_balance=record.closing_balance,
        amount_due=record.amount_due,
        due_date=record.due_date,
        aging=Aging(
            current=aging.current,
            d1_30=aging.d1_30,
            d31_60=aging.d31_60,
            d61_90=aging.d61_90,
            over_90=aging.over_90,
        ),
        delivered_to=record.delivered_to if status == "sent" else None,
        status=status,
        detail=detail,
        request_event_id=request_event_id,
        currency=record.currency,
        occurred_at=now,
    )
    return Outgoing.of(STATEMENTS_SENT, record.account_number, message)
