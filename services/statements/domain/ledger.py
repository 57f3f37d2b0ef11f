"""Ledger entries as the statements store keeps them, copied from accounts.events.v1."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

ZERO = Decimal("0")

EntryKind = Literal[
    "opening_balance",
    "charge",
    "charge_reversal",
    "payment",
    "credit_note",
    "journal",
    "write_off",
]


@dataclass(frozen=True)
class Entry:
    """One posted entry. `amount` is signed: positive raises what the customer owes."""

    entry_id: str
    kind: EntryKind
    amount: Decimal
    posted_at: datetime
    reference: str | None = None
    due_date: date | None = None
    member_account_number: str | None = None

    def __post_init__(self) -> None:
        assert self.posted_at.tzinfo is not None, "entries are posted at aware times"

    @property
    def is_debit(self) -> bool:
        return self.amount > 0
