"""A statement: what an account owed at the start of a period, what happened in it, what it owes
at the end, how late that is, and what to pay by when.

Entries belong to the period of their posting day in the business time zone. The opening
balance carries forward everything posted before the period, so opening + entries = closing,
and the aging buckets, worked out as of the period end from every entry up to it, add up to the
closing balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from decimal import Decimal

from services.statements.domain.aging import Aging, age, open_items
from services.statements.domain.ledger import ZERO, Entry, EntryKind
from services.statements.domain.schedule import Period, business_day

_DESCRIPTIONS: dict[EntryKind, str] = {
    "opening_balance": "Opening balance",
    "charge": "Charge",
    "charge_reversal": "Charge reversed",
    "payment": "Payment",
    "credit_note": "Credit note",
    "journal": "Journal",
    "write_off": "Write-off",
}


@dataclass(frozen=True)
class StatedAccount:
    """What a statement needs of an account."""

    number: str
    name: str
    currency: str
    credit_period_days: int


@dataclass(frozen=True)
class Line:
    """One entry on the statement; `debit` and `credit` are positive, one of them zero."""

    day: date
    entry_id: str
    reference: str | None
    description: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Statement:
    account: StatedAccount
    period: Period
    opening_balance: Decimal
    lines: tuple[Line, ...]
    closing_balance: Decimal
    aging: Aging
    amount_due: Decimal
    due_date: date

    @property
    def total_debits(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def total_credits(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def has_nothing_to_say(self) -> bool:
        """Nothing owed and nothing happened: no statement is sent for such a period."""
        return self.opening_balance == 0 and not self.lines


def describe(entry: Entry) -> str:
    description = _DESCRIPTIONS[entry.kind]
    if entry.member_account_number is not None:
        # A group's parent pays for its members' sales: say whose sale it was.
        return f"{description} (member {entry.member_account_number})"
    return description


def state_account(
    account: StatedAccount, entries: Sequence[Entry], period: Period, zone: tzinfo
) -> Statement:
    """The statement of `period` from the account's entries in ledger order (all of them, or at
    least every one posted up to the period end)."""
    days = [business_day(entry.posted_at, zone) for entry in entries]
    opening = sum((e.amount for e, d in zip(entries, days, strict=True) if d < period.start), ZERO)
    lines = []
    balance = opening
    for entry, day in zip(entries, days, strict=True):
        if day in period:
            balance += entry.amount
            lines.append(_line(entry, day, balance))
    stated = [e for e, d in zip(entries, days, strict=True) if d <= period.end]
    aging = age(open_items(stated), period.end)
    assert aging.total == balance, (
        f"aging of {account.number} adds up to {aging.total}, not its balance {balance}"
    )
    return Statement(
        account=account,
        period=period,
        opening_balance=opening,
        lines=tuple(lines),
        closing_balance=balance,
        aging=aging,
        # A credit balance is owed to the customer: nothing to pay.
        amount_due=max(balance, ZERO),
        due_date=period.end + timedelta(days=account.credit_period_days),
    )


def _line(entry: Entry, day: date, balance: Decimal) -> Line:
    return Line(
        day=day,
        entry_id=entry.entry_id,
        reference=entry.reference,
        description=describe(entry),
        debit=entry.amount if entry.amount > 0 else ZERO,
        credit=-entry.amount if entry.amount < 0 else ZERO,
        balance=balance,
    )
