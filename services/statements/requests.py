"""statements.requests.v1: a statement on demand, emailed or only rendered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import Unprocessable
from services.common.messages import Outgoing, Record
from services.statements.domain.schedule import last_closed_day, period_ending
from services.statements.issuing import Issuer
from services.statements.ledger_repository import find_account
from services.statements.outcomes import request_reply
from services.statements.statement_repository import (
    StatementRecord,
    add_waiting_request,
    find_statement,
    insert_statement,
    next_round,
    save_if_unchanged,
)
from shared.statements import StatementRequest
from shared.topics import STATEMENT_REQUESTS
from shared.wire import load_statement_request

# Statements whose delivery a `deliver: true` request starts again.
_REDELIVERABLE = frozenset({"rendered", "failed", "unconfirmed"})


class StatementRequests:
    topic = STATEMENT_REQUESTS

    def __init__(self, issuer: Issuer, zone: tzinfo, close_delay: timedelta) -> None:
        self._issuer = issuer
        self._zone = zone
        self._close_delay = close_delay

    def parse(self, raw: bytes) -> StatementRequest:
        return load_statement_request(raw)

    def message_id(self, message: StatementRequest) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        # Only the dead letter: statements.sent.v1 reports a statement, and every figure it
        # requires (id, period, balances, aging) is unknown for a request that cannot be read.
        # Zeros would be read downstream as an account's real balance.
        return []

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[StatementRequest], now: datetime
    ) -> list[list[Outgoing]]:
        return [await self._one(conn, request, now) for request in messages]

    async def _one(
        self, conn: AsyncConnection, request: StatementRequest, now: datetime
    ) -> list[Outgoing]:
        account = await find_account(conn, request.account_number, for_update=True)
        if account is None:
            raise Unprocessable(
                f"account {request.account_number} is unknown to the statements service "
                "(no account_opened on accounts.events.v1)"
            )
        last_closed = last_closed_day(now, self._zone, self._close_delay)
        if request.period_end > last_closed:
            raise Unprocessable(
                f"the period ending {request.period_end} is not over: the latest period end "
                f"that can be stated now is {last_closed}"
            )
        record = await find_statement(conn, account.number, request.period_end)
        if record is None:
            period = period_ending(account.frequency, request.period_end)
            statement = await self._issuer.state(conn, account, period)
            record = self._issuer.record(
                statement,
                account,
                origin="request",
                status="pending" if request.deliver else "rendered",
                announce=False,
                now=now,
            )
            await insert_statement(conn, record)
        if not request.deliver:
            return [
                request_reply(
                    record, request.event_id, now, rendered=True, detail=_delivery_note(record)
                )
            ]
        if record.status == "sent":
            note = f"sent before, to {record.delivered_to}; not sent again"
            return [request_reply(record, request.event_id, now, detail=note)]
        if record.status in _REDELIVERABLE:
            again = next_round(record, now, announce=False)
            # A statement at rest is moved only here and by the scheduler, both under the
            # account's lock (PostgreSQL) or the single writer (SQLite).
            moved = await save_if_unchanged(conn, record, again)
            assert moved, f"statement {record.statement_id} moved under the account's lock"
            record = again
        # The answer comes with the outcome of the delivery round.
        await add_waiting_request(conn, request.event_id, record, now)
        return []


def _delivery_note(record: StatementRecord) -> str | None:
    """What became of the statement's delivery, for a request that only rendered it."""
    if record.status == "rendered":
        return None
    if record.status in ("pending", "sending"):
        return "rendered; its delivery by email is under way"
    if record.status == "sent":
        return f"rendered; it was sent to {record.delivered_to}"
    return f"rendered; its delivery failed: {record.detail}"
