"""Emailing statements: claim, send, record the outcome, publish it.

A statement is claimed by committing "sending" (with a lease) before the mail server is
called, and its outcome is recorded only if the row is still as the claim left it. A worker that
stops mid-send leaves "sending" behind; when the lease runs out the statement becomes
"unconfirmed" (needs attention) and is not sent again on its own: see domain/delivery.py.

The lease is renewed as the conversation starts, and the statement is sent only if that
succeeds: one claimed in a pass may wait behind the others for a long time when the mail server
is slow, long enough for another replica to report it unconfirmed. It must not then be sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.clock import Clock
from services.common.messages import Outgoing
from services.common.outbox import Outbox, OutboxRelay, OutboxRow
from services.statements.documents import Document
from services.statements.domain.delivery import (
    Failed,
    Outcome,
    RetryAt,
    RetryPolicy,
    Sent,
    Unconfirmed,
    after_attempt,
    stalled_detail,
)
from services.statements.ledger_repository import find_account
from services.statements.mail import pdf_filename, statement_email
from services.statements.outcomes import request_reply, round_outcome
from services.statements.smtp import MailServer
from services.statements.statement_repository import (
    StatementRecord,
    answer_waiting_requests,
    due_for_delivery,
    remember_reply,
    save_if_unchanged,
    stalled,
)
from services.statements.tables import runtime

log = logging.getLogger(__name__)


class Deliveries:
    def __init__(
        self,
        engine: AsyncEngine,
        mail: MailServer,
        policy: RetryPolicy,
        clock: Clock,
        *,
        sender: str,
        sender_name: str,
        lease: timedelta,
        per_pass_max: int,
        concurrent_max: int,
        interval_s: float,
        relay: OutboxRelay | None,
    ) -> None:
        self._engine = engine
        self._mail = mail
        self._policy = policy
        self._clock = clock
        self._sender = sender
        self._sender_name = sender_name
        self._lease = lease
        self._per_pass_max = per_pass_max
        self._sends = asyncio.Semaphore(concurrent_max)
        self._interval_s = interval_s
        # Without a relay the outbox sweep publishes the outcomes, a few seconds later.
        self._relay = relay
        self._outbox = Outbox(runtime)

    async def run_deliveries(self) -> None:
        """Runs until cancelled. A full pass (it took as many statements as a pass may, so more
        may be waiting) is followed by the next at once; a pass that found fewer, failed, or
        had a delivery break (all logged) waits the interval. A statement refused for now is
        not due again before its backoff, so going straight on never tries one sooner."""
        while True:
            full = False
            try:
                done = await self._pass(self._clock.now())
                full = done.broken == 0 and max(done.released, done.claimed) >= self._per_pass_max
            except Exception:
                log.warning("delivering statements failed; trying again shortly", exc_info=True)
            # Straight on or not, the worker's other tasks get their turn between passes.
            await asyncio.sleep(0 if full else self._interval_s)

    async def deliver_due(self, now: datetime) -> int:
        """Settles stalled sends, then emails what is due by `now`; returns how many it tried."""
        return (await self._pass(now)).claimed

    async def _pass(self, now: datetime) -> _Pass:
        released = await self.release_stalled(now)
        claimed = await self._claim(now)
        results = await asyncio.gather(
            *(self._deliver(record) for record in claimed), return_exceptions=True
        )
        broken = 0
        for record, result in zip(claimed, results, strict=True):
            if isinstance(result, Exception):
                # Left "sending": when its lease runs out it is reported unconfirmed.
                log.error("statement %s: delivery broke", record.statement_id, exc_info=result)
                broken += 1
            elif isinstance(result, BaseException):
                raise result
        return _Pass(released, len(claimed), broken)

    async def release_stalled(self, now: datetime) -> int:
        """Statements whose sender stopped mid-send become "unconfirmed", reported as failed."""
        released = 0
        async with self._engine.begin() as conn:
            messages: list[Outgoing] = []
            for record in await stalled(conn, now, self._per_pass_max):
                after = replace(
                    record,
                    status="unconfirmed",
                    sending_until=None,
                    detail=stalled_detail(record.message_id),
                    updated_at=now,
                )
                if await save_if_unchanged(conn, record, after):
                    log.error("statement %s: %s", record.statement_id, after.detail)
                    messages += await self._announce(conn, after, now)
                    released += 1
            rows = await self._outbox.add(conn, messages, now)
        await self._publish(rows)
        return released

    async def _claim(self, now: datetime) -> list[StatementRecord]:
        claimed = []
        async with self._engine.begin() as conn:
            for record in await due_for_delivery(conn, now, self._per_pass_max):
                account = await find_account(conn, record.account_number)
                assert account is not None, f"statement {record.statement_id} has no account"
                sending = replace(
                    record,
                    status="sending",
                    attempts=record.attempts + 1,
                    sending_until=now + self._lease,
                    # The address of the day it is sent: the account may have changed it.
                    delivered_to=account.statement_email,
                    updated_at=now,
                )
                if await save_if_unchanged(conn, record, sending):
                    claimed.append(sending)
        return claimed

    async def _deliver(self, claimed: StatementRecord) -> None:
        assert claimed.delivered_to is not None
        async with self._sends:
            record = await self._renew(claimed)
            if record is None:
                log.warning(
                    "statement %s was reported unconfirmed while it waited to be sent; not sent",
                    claimed.statement_id,
                )
                return
            assert record.delivered_to is not None
            message = statement_email(
                Document(record.subject, record.body_text, record.body_html, record.pdf),
                sender=self._sender,
                sender_name=self._sender_name,
                recipient=record.delivered_to,
                message_id=record.message_id,
                filename=pdf_filename(record.account_number, record.period.end.isoformat()),
                sent_at=self._clock.now(),
            )
            attempt = await self._mail.send(message, self._sender, record.delivered_to)
        now = self._clock.now()
        outcome = after_attempt(attempt, record.attempts, self._policy, now)
        await self._record(record, outcome, now)

    async def _renew(self, claimed: StatementRecord) -> StatementRecord | None:
        """The lease from now, for one conversation; None if the statement moved on."""
        now = self._clock.now()
        renewed = replace(claimed, sending_until=now + self._lease, updated_at=now)
        async with self._engine.begin() as conn:
            return renewed if await save_if_unchanged(conn, claimed, renewed) else None

    async def _record(self, sending: StatementRecord, outcome: Outcome, now: datetime) -> None:
        after = _after(sending, outcome, now)
        async with self._engine.begin() as conn:
            saved = await save_if_unchanged(conn, sending, after)
            if not saved and isinstance(outcome, Sent):
                # The lease ran out before the server answered and the statement was reported
                # unconfirmed; now it is known to be sent, say so.
                saved = await save_if_unchanged(conn, replace(sending, status="unconfirmed"), after)
            if not saved:
                log.warning(
                    "statement %s moved on while it was being sent; %s not recorded",
                    sending.statement_id,
                    type(outcome).__name__,
                )
                return
            if isinstance(outcome, RetryAt):
                log.warning(
                    "statement %s: attempt %d failed (%s); next at %s",
                    sending.statement_id,
                    sending.attempts,
                    outcome.detail,
                    outcome.when.isoformat(),
                )
                return
            messages = await self._announce(conn, after, now)
            rows = await self._outbox.add(conn, messages, now)
        log.info("statement %s: %s", sending.statement_id, after.status)
        await self._publish(rows)

    async def _announce(
        self, conn: AsyncConnection, record: StatementRecord, now: datetime
    ) -> list[Outgoing]:
        """The outcome of the round: for the schedule, and for each request waiting on it."""
        messages = [round_outcome(record, now)] if record.announce_round else []
        for request_event_id in await answer_waiting_requests(conn, record, now):
            reply = request_reply(record, request_event_id, now)
            await remember_reply(conn, request_event_id, reply)
            messages.append(reply)
        return messages

    async def _publish(self, rows: Sequence[OutboxRow]) -> None:
        if self._relay is not None:
            await self._relay.publish(rows)


@dataclass(frozen=True)
class _Pass:
    released: int  # stalled sends recorded unconfirmed
    claimed: int  # statements it tried to email
    broken: int  # of those, how many broke before their outcome was recorded: an error


def _after(sending: StatementRecord, outcome: Outcome, now: datetime) -> StatementRecord:
    moved = replace(sending, sending_until=None, updated_at=now)
    if isinstance(outcome, Sent):
        return replace(moved, status="sent", sent_at=now, detail=None)
    if isinstance(outcome, RetryAt):
        return replace(moved, status="pending", next_attempt_at=outcome.when, detail=outcome.detail)
    if isinstance(outcome, Failed):
        return replace(moved, status="failed", detail=outcome.detail)
    assert isinstance(outcome, Unconfirmed)
    detail = f"{outcome.detail}; Message-ID {sending.message_id}"
    return replace(moved, status="unconfirmed", detail=detail)
