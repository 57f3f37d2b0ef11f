"""Accounts and commands the domain tests start from: plain values, fixed times, no I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from services.credit.domain.accounts import Account, AccountStatus, SettlementFrequency
from shared.commands import OpenAccount

# A fixed, aware instant in the business time zone (NZDT); tests never read the clock.
NZDT = timezone(timedelta(hours=13))
NOW = datetime(2026, 11, 22, 10, 15, tzinfo=NZDT)


def an_account(
    *,
    number: str = "ACC-0001",
    status: AccountStatus = "active",
    currency: str = "NZD",
    credit_limit: str = "1000.00",
    restrict_credit: bool = True,
    balance: str = "0.00",
    credit_period_days: int = 30,
) -> Account:
    return Account(
        number=number,
        name="Hammer & Co",
        currency=currency,
        status=status,
        credit_limit=Decimal(credit_limit),
        restrict_credit=restrict_credit,
        credit_period_days=credit_period_days,
        settlement=SettlementFrequency(1, "month", date(2026, 12, 1)),
        statement_email="accounts@hammer.example",
        customer_id=None,
        credit_rating=None,
        overdue_hold_days=None,
        opened_at=NOW,
        balance=Decimal(balance),
    )


def an_open_account_command(**fields: Any) -> OpenAccount:
    """`open_account` as it arrives on accounts.commands.v1, with `fields` replacing defaults."""
    payload: dict[str, Any] = {
        "command_id": "c-open-1",
        "issued_at": "2026-11-22T10:15:00+13:00",
        "issued_by": "back-office",
        "type": "open_account",
        "account_number": "ACC-0001",
        "name": "Hammer & Co",
        "currency": "NZD",
        "credit_limit": "1000.00",
        "restrict_credit": True,
        "credit_period_days": 30,
        "settlement_frequency": {"every": 1, "unit": "month", "anchor": "2026-12-01"},
        "statement_email": "accounts@hammer.example",
        **fields,
    }
    return OpenAccount.model_validate(payload)
