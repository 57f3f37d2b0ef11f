"""The statements worker's copy of accounts and their entries, kept from accounts.events.v1."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing, Record
from services.statements.domain.schedule import (
    Frequency,
    business_day,
    period_containing,
    period_end_on_or_after,
)
from services.statements.ledger_repository import find_account
from services.statements.tables import statement_accounts, statement_entries
from shared.account_events import (
    AccountChanged,
    AccountEvent,
    AccountOpened,
    EntryPosted,
    account_event_adapter,
)
from shared.money import to_minor
from shared.terms import SettlementFrequency
from shared.topics import ACCOUNT_EVENTS

# Account terms a statement needs, as named in account_changed.
_STATEMENT_TERMS = ("status", "credit_period_days", "statement_email", "name")


class AccountEvents:
    topic = ACCOUNT_EVENTS

    def __init__(self, zone: tzinfo) -> None:
        self._zone = zone

    def parse(self, raw: bytes) -> AccountEvent:
        return account_event_adapter.validate_json(raw)

    def message_id(self, message: AccountEvent) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        return []

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[AccountEvent], now: datetime
    ) -> list[list[Outgoing]]:
        positions = await _last_positions(
            conn, {m.account_number for m in messages if isinstance(m, EntryPosted)}
        )
        known = await _known_entries(
            conn, [m.entry.entry_id for m in messages if isinstance(m, EntryPosted)]
        )
        for event in messages:
            if isinstance(event, AccountOpened):
                await conn.execute(insert(statement_accounts).values(self._opened(event)))
            elif isinstance(event, AccountChanged):
                await self._changed(conn, event)
            elif isinstance(event, EntryPosted) and event.entry.entry_id not in known:
                # An entry is stored once, whichever event brought it.
                known.add(event.entry.entry_id)
                position = positions.get(event.account_number, 0) + 1
                positions[event.account_number] = position
                await conn.execute(insert(statement_entries).values(_entry(event, position)))
        return [[] for _ in messages]

    def _opened(self, event: AccountOpened) -> dict[str, object]:
        frequency = _frequency(event.settlement_frequency)
        first = period_containing(frequency, business_day(event.occurred_at, self._zone))
        return {
            "account_number": event.account_number,
            "name": event.name,
            "currency": event.currency,
            "status": event.status,
            "credit_period_days": event.credit_period_days,
            "settlement_every": frequency.every,
            "settlement_unit": frequency.unit,
            "settlement_anchor": frequency.anchor,
            "statement_email": event.statement_email,
            "opened_at": event.occurred_at.astimezone(UTC),
            "next_period_start": first.start,
            "next_period_end": first.end,
        }

    async def _changed(self, conn: AsyncConnection, event: AccountChanged) -> None:
        changes = {k: v for k, v in event.changes().items() if k in _STATEMENT_TERMS}
        if event.settlement_frequency is not None:
            changes |= await self._new_schedule(conn, event, event.settlement_frequency)
        if changes:
            await conn.execute(
                update(statement_accounts)
                .where(statement_accounts.c.account_number == event.account_number)
                .values(changes)
            )

    async def _new_schedule(
        self, conn: AsyncConnection, event: AccountChanged, terms: SettlementFrequency
    ) -> dict[str, object]:
        """A new schedule takes over from the next period still to state: that period keeps
        its start (no gap, no overlap) and ends on the new schedule's next period end."""
        frequency = _frequency(terms)
        changes: dict[str, object] = {
            "settlement_every": frequency.every,
            "settlement_unit": frequency.unit,
            "settlement_anchor": frequency.anchor,
        }
        account = await find_account(conn, event.account_number, for_update=True)
        if account is not None and account.next_period is not None:
            start = account.next_period.start
            changes["next_period_end"] = period_end_on_or_after(frequency, start)
        return changes


def _frequency(terms: SettlementFrequency) -> Frequency:
    return Frequency(terms.every, terms.unit, terms.anchor)


async def _last_positions(conn: AsyncConnection, accounts: Iterable[str]) -> dict[str, int]:
    wanted = sorted(accounts)
    if not wanted:
        return {}
    table = statement_entries
    rows = await conn.execute(
        select(table.c.account_number, func.max(table.c.position))
        .where(table.c.account_number.in_(wanted))
        .group_by(table.c.account_number)
    )
    return {number: int(last or 0) for number, last in rows}


async def _known_entries(conn: AsyncConnection, entry_ids: list[str]) -> set[str]:
    if not entry_ids:
        return set()
    table = statement_entries
    rows = await conn.execute(select(table.c.entry_id).where(table.c.entry_id.in_(entry_ids)))
    return {row.entry_id for row in rows}


def _entry(event: EntryPosted, position: int) -> dict[str, object]:
    entry = event.entry
    return {
        "entry_id": entry.entry_id,
        "account_number": event.account_number,
        "kind": entry.kind,
        "amount": to_minor(entry.amount),
        "balance_after": to_minor(entry.balance_after),
        "reference": entry.reference,
        "due_date": entry.due_date,
        # UTC: SQLite keeps a timestamp's wall time and drops its offset.
        "posted_at": entry.posted_at.astimezone(UTC),
        "forced": entry.forced,
        "position": position,
        "member_account_number": entry.member_account_number,
    }
