"""The schedule: wakes up, finds the periods that ended, and makes their statements.

Each account keeps a cursor, the next period to state. For each account whose cursor period is
over, one transaction locks the account (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas take
different accounts; SQLite: one writer at a time), makes each period's statement, and moves the
cursor. The unique key (account_number, period_end) is the last word: a statement that
exists is never made again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.clock import Clock
from services.statements.domain.schedule import (
    Period,
    business_day,
    last_closed_day,
    next_period,
    period_containing,
    period_end_on_or_after,
    period_ending,
)
from services.statements.issuing import Issuer
from services.statements.ledger_repository import (
    AccountRecord,
    due_account_numbers,
    lock_if_due,
    move_cursor,
)
from services.statements.statement_repository import (
    find_statement,
    insert_statement,
    next_round,
    save_if_unchanged,
)

log = logging.getLogger(__name__)

# Periods one account may catch up on in one pass; the cursor keeps the rest for the next.
_PERIODS_PER_ACCOUNT_MAX = 64
# Batches of accounts in one wake-up: a million accounts at the default batch, yet a bound.
_PASSES_MAX = 10_000
# The database is down: the whole wake-up stops, and the next one tries again.
_OUTAGES = (OperationalError, InterfaceError, OSError)


class CursorMoved(Exception):
    """An account's cursor changed under the scheduler's lock: a bug, or a lost lock."""


class Scheduler:
    def __init__(
        self,
        engine: AsyncEngine,
        issuer: Issuer,
        clock: Clock,
        *,
        close_delay: timedelta,
        catch_up_days: int,
        accounts_per_pass_max: int,
        interval_s: float,
    ) -> None:
        self._engine = engine
        self._issuer = issuer
        self._clock = clock
        self._close_delay = close_delay
        self._catch_up = timedelta(days=catch_up_days)
        self._accounts_max = accounts_per_pass_max
        self._interval_s = interval_s

    async def run_schedule(self) -> None:
        """Runs until cancelled; a failed wake-up is logged and tried again at the next."""
        while True:
            try:
                await self.make_due_statements(self._clock.now())
            except Exception:
                log.warning("making statements failed; trying again shortly", exc_info=True)
            await asyncio.sleep(self._interval_s)

    async def make_due_statements(self, now: datetime) -> int:
        """Makes the statement of every period over by `now`; returns how many it made."""
        last_closed = last_closed_day(now, self._issuer.zone, self._close_delay)
        oldest = last_closed - self._catch_up
        made = 0
        after = ""
        # One sweep through the due accounts in account order; each account in a transaction of
        # its own, so that one that fails cannot hold up the others.
        for _ in range(_PASSES_MAX):
            async with self._engine.connect() as conn:
                numbers = await due_account_numbers(conn, last_closed, after, self._accounts_max)
            for number in numbers:
                made += await self._state_account(number, last_closed, oldest, now)
            if len(numbers) < self._accounts_max:
                break
            after = numbers[-1]
        return made

    async def _state_account(
        self, number: str, last_closed: date, oldest: date, now: datetime
    ) -> int:
        try:
            async with self._engine.begin() as conn:
                account = await lock_if_due(conn, number, last_closed)
                if account is None:
                    return 0  # another worker has it, or had it a moment ago
                return await self._catch_up_account(conn, account, last_closed, oldest, now)
        except _OUTAGES:
            raise
        except Exception:
            # Our bug, or an operator's template: this account waits for the next wake-up.
            log.exception("account %s: its statements were not made", number)
            return 0

    async def _catch_up_account(
        self,
        conn: AsyncConnection,
        account: AccountRecord,
        last_closed: date,
        oldest: date,
        now: datetime,
    ) -> int:
        frequency = account.frequency
        period = account.next_period or period_containing(
            frequency, business_day(account.opened_at, self._issuer.zone)
        )
        made = 0
        for _ in range(_PERIODS_PER_ACCOUNT_MAX):
            if period.end > last_closed:
                break
            if period.end < oldest:
                # Too late to be news: the worker was down for long, or its store was just
                # built from old events. Such statements are made only on request.
                log.info(
                    "account %s: periods ending before %s are past the catch-up window; not stated",
                    account.number,
                    oldest,
                )
                period = period_ending(frequency, period_end_on_or_after(frequency, oldest))
                continue
            made += await self._state(conn, account, period, now)
            period = next_period(frequency, period)
        expected = account.next_period.end if account.next_period is not None else None
        if not await move_cursor(conn, account.number, expected, period):
            raise CursorMoved(f"account {account.number}: its next period changed meanwhile")
        return made

    async def _state(
        self, conn: AsyncConnection, account: AccountRecord, period: Period, now: datetime
    ) -> int:
        existing = await find_statement(conn, account.number, period.end)
        if existing is None:
            statement = await self._issuer.state(conn, account, period)
            if statement.has_nothing_to_say:
                return 0
            record = self._issuer.record(
                statement, account, origin="schedule", status="pending", announce=True, now=now
            )
            await insert_statement(conn, record)
            log.info("statement %s made, to be emailed", record.statement_id)
            return 1
        if existing.status == "rendered":
            # Rendered on request before the schedule got to it, and never emailed: the
            # schedule emails that one, not a second statement of the period.
            moved = await save_if_unchanged(
                conn, existing, next_round(existing, now, announce=True)
            )
            if not moved:
                raise CursorMoved(f"statement {existing.statement_id} changed meanwhile")
            return 1
        return 0
