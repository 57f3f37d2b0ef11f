"""Ledger entries: every change to what an account owes is an immutable entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from services.credit.domain.accounts import Account

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
    entry_id: str
    account_number: str
    kind: EntryKind
    # Signed: positive raises what the customer owes.
    amount: Decimal
    balance_after: Decimal
    reference: str | None
    due_date: date | None
    posted_at: datetime
    forced: bool = False
    # (code, authorised_by) of a manager's override that let a charge past the limit.
    override: tuple[str, str] | None = None
    # The group member whose sale this charge to the parent is for.
    member_account_number: str | None = None


def post(
    account: Account,
    *,
    entry_id: str,
    kind: EntryKind,
    amount: Decimal,
    reference: str | None,
    posted_at: datetime,
    due_date: date | None = None,
    forced: bool = False,
    override: tuple[str, str] | None = None,
    member_account_number: str | None = None,
) -> Entry:
    """Posts an entry to the account: the balance moves by exactly the entry's amount."""
    account.balance += amount
    return Entry(
        entry_id=entry_id,
        account_number=account.number,
        kind=kind,
        amount=amount,
        balance_after=account.balance,
        reference=reference,
        due_date=due_date,
        posted_at=posted_at,
        forced=forced,
        override=override,
        member_account_number=member_account_number,
    )


def due_date_of(account: Account, charged_on: date) -> date:
    """A charge falls due the account's credit period after the day it is made."""
    return charged_on + timedelta(days=account.credit_period_days)
