"""Entries and accounts for statement tests, dated in the business time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.statements.domain.ledger import Entry, EntryKind
from services.statements.domain.statement import StatedAccount

AUCKLAND = ZoneInfo("Pacific/Auckland")
ACCOUNT = StatedAccount("ACC-0001", "Hammer & Sons Ltd", "NZD", 30)


def at(day: date, hour: int = 10) -> datetime:
    """A posting time on `day` in Auckland, in UTC as the store keeps it."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=AUCKLAND).astimezone(UTC)


def entry(
    entry_id: str,
    kind: EntryKind,
    amount: str,
    day: date,
    *,
    reference: str | None = None,
    due_in_days: int | None = 30,
    hour: int = 10,
) -> Entry:
    value = Decimal(amount)
    due = day + timedelta(days=due_in_days) if value > 0 and due_in_days is not None else None
    return Entry(entry_id, kind, value, at(day, hour), reference or entry_id, due)
