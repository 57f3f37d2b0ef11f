"""The statements phase's workload: accounts with a few entries each, as the credit service
publishes them on accounts.events.v1; a statement request for each; and the check of what the
mail server received.

The dates keep the statements service's scheduler out of the measurement: each account opens
nine days ago in a monthly period that ends ten days from now, so no scheduled period has
ended. The requests ask for the period up to two days ago (over, whatever the close delay and
the hour), which holds every entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from bench.records import KeyedRecord
from services.statements.mail import pdf_filename
from shared.account_events import AccountEventBase, AccountOpened, Entry, EntryKind, EntryPosted
from shared.statements import StatementRequest
from shared.terms import SettlementFrequency

CURRENCY = "NZD"
CREDIT_PERIOD_DAYS = 30
EMAIL_DOMAIN = "bench.example"
OPENED_DAYS_AGO = 9
PERIOD_END_DAYS_AGO = 2
PERIOD_ENDS_IN_DAYS = 10
PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class LedgerPlan:
    account_events: list[KeyedRecord]
    requests: list[KeyedRecord]
    recipients: dict[str, str]  # account number: its statement email
    period_end: date
    entries: int


def _postings(n: int) -> list[tuple[int, EntryKind, Decimal]]:
    """(days ago, kind, amount): two charges, a payment, a charge; the balance stays owing."""
    first = Decimal(20 + n % 50) + Decimal("0.45")
    return [
        (8, "charge", first),
        (6, "charge", Decimal("35.10")),
        (4, "payment", -Decimal("40.00")),
        (3, "charge", Decimal(5 + n % 9) + Decimal("0.99")),
    ]


def _event(event: AccountEventBase) -> KeyedRecord:
    key = getattr(event, "account_number", event.event_id)
    return KeyedRecord(str(key).encode(), event.model_dump_json(by_alias=True).encode())


def ledgers(accounts: int, prefix: str, now: datetime, zone: tzinfo) -> LedgerPlan:
    today = now.astimezone(zone).date()

    def at(days_ago: int, hour: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(hour), zone)

    frequency = SettlementFrequency(
        every=1, unit="month", anchor=today + timedelta(days=PERIOD_ENDS_IN_DAYS)
    )
    period_end = today - timedelta(days=PERIOD_END_DAYS_AGO)
    events: list[KeyedRecord] = []
    requests: list[KeyedRecord] = []
    recipients: dict[str, str] = {}
    entries = 0
    for n in range(accounts):
        number = f"{prefix}S{n:06d}"
        recipients[number] = f"{number.lower()}@{EMAIL_DOMAIN}"
        opened = AccountOpened(
            event_id=f"{number}-opened",
            occurred_at=at(OPENED_DAYS_AGO, 9),
            account_number=number,
            status="active",
            name=f"Bench Builders {n}",
            currency=CURRENCY,
            credit_limit=Decimal("5000.00"),
            restrict_credit=True,
            credit_period_days=CREDIT_PERIOD_DAYS,
            settlement_frequency=frequency,
            statement_email=recipients[number],
        )
        events.append(_event(opened))
        balance = Decimal("0")
        for k, (days_ago, kind, amount) in enumerate(_postings(n)):
            balance += amount
            posted = at(days_ago, 10)
            due = posted.date() + timedelta(days=CREDIT_PERIOD_DAYS) if amount > 0 else None
            entry = Entry(
                entry_id=f"{number}-e{k}",
                kind=kind,
                amount=amount,
                currency=CURRENCY,
                balance_after=balance,
                reference=f"{number}-r{k}",
                due_date=due,
                posted_at=posted,
            )
            event_id = f"{number}-posted{k}"
            posted_event = EntryPosted(
                event_id=event_id, occurred_at=posted, account_number=number, entry=entry
            )
            events.append(_event(posted_event))
            entries += 1
        request = StatementRequest(
            event_id=f"{number}-request",
            account_number=number,
            period_end=period_end,
            deliver=True,
            occurred_at=now,
        )
        requests.append(KeyedRecord(number.encode(), request.model_dump_json().encode()))
    return LedgerPlan(events, requests, recipients, period_end, entries)


@dataclass(frozen=True)
class Delivered:
    """One email the mail server received: envelope recipients, To, and its attachments."""

    recipients: tuple[str, ...]
    to: str
    attachments: Mapping[str, bytes]


def delivery_problems(
    recipients: Mapping[str, str], period_end: date, delivered: Sequence[Delivered]
) -> list[str]:
    """Every account got exactly one email, to its statement address, with its PDF."""
    files = {pdf_filename(number, period_end.isoformat()): number for number in recipients}
    wrong: list[str] = []
    emails: Counter[str] = Counter()
    for mail in delivered:
        named = [files[name] for name in mail.attachments if name in files]
        if len(named) != 1 or len(mail.attachments) != 1:
            wrong.append(f"an email to {mail.to} has attachments {sorted(mail.attachments)}")
            continue
        number = named[0]
        emails[number] += 1
        address = recipients[number]
        if mail.recipients != (address,) or mail.to != address:
            wrong.append(f"{number}: sent to {list(mail.recipients)} (To {mail.to}), not {address}")
        if not next(iter(mail.attachments.values())).startswith(PDF_MAGIC):
            wrong.append(f"{number}: the attachment is not a PDF")
    for number in recipients:
        if emails[number] != 1:
            wrong.append(f"{number} got {emails[number]} emails")
    return wrong
