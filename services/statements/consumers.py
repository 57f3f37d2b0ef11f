"""The statements worker's handler: it keeps its own copy of accounts and their entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing, Record
from services.statements.tables import statement_accounts, statement_entries
from shared.account_events import (
    AccountChanged,
    AccountEvent,
    AccountOpened,
    EntryPosted,
    account_event_adapter,
)
from shared.money import to_minor
from shared.topics import ACCOUNT_EVENTS

# Account terms a statement needs, as named in account_changed.
_STATEMENT_TERMS = ("status", "credit_period_days", "statement_email", "name")


class AccountEvents:
    topic = ACCOUNT_EVENTS

    def parse(self, raw: bytes) -> AccountEvent:
        return account_event_adapter.validate_json(raw)

    def message_id(self, message: AccountEvent) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        return []

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[AccountEvent], now: datetime
    ) -> list[list[Outgoing]]:
        for event in messages:
            if isinstance(event, AccountOpened):
                await conn.execute(insert(statement_accounts).values(_opened(event)))
            elif isinstance(event, AccountChanged):
                changes = {k: v for k, v in event.changes().items() if k in _STATEMENT_TERMS}
                if changes:
                    await conn.execute(
                        update(statement_accounts)
                        .where(statement_accounts.c.account_number == event.account_number)
                        .values(changes)
                    )
            elif isinstance(event, EntryPosted):
                await conn.execute(insert(statement_entries).values(_entry(event)))
        return [[] for _ in messages]


def _opened(event: AccountOpened) -> dict[str, object]:
    frequency = event.settlement_frequency
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
        "opened_at": event.occurred_at,
    }


def _entry(event: EntryPosted) -> dict[str, object]:
    entry = event.entry
    return {
        "entry_id": entry.entry_id,
        "account_number": event.account_number,
        "kind": entry.kind,
        "amount": to_minor(entry.amount),
        "balance_after": to_minor(entry.balance_after),
        "reference": entry.reference,
        "due_date": entry.due_date,
        "posted_at": entry.posted_at,
        "forced": entry.forced,
    }
