"""The statements phase's workload and its check of the emails the mail server received."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bench.statement_ledgers import Delivered, LedgerPlan, delivery_problems, ledgers
from services.statements.domain.schedule import (
    Frequency,
    business_day,
    last_closed_day,
    period_containing,
    period_ending,
)
from services.statements.mail import pdf_filename
from shared.account_events import AccountOpened, EntryPosted, account_event_adapter
from shared.statements import StatementRequest

ZONE = ZoneInfo("Pacific/Auckland")
PDF = b"%PDF-1.4 statement"


def _plan(now: datetime, accounts: int = 5) -> LedgerPlan:
    return ledgers(accounts, "t-", now, ZONE)


def test_each_account_has_a_few_entries_whose_balances_add_up() -> None:
    plan = _plan(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    events = [account_event_adapter.validate_json(r.value) for r in plan.account_events]
    assert [r.key.decode() for r in plan.account_events] == [e.account_number for e in events]
    balances: dict[str, Decimal] = defaultdict(Decimal)
    for event in events:
        if isinstance(event, EntryPosted):
            balances[event.account_number] += event.entry.amount
            assert event.entry.balance_after == balances[event.account_number]
    assert plan.entries == 4 * 5 == sum(isinstance(e, EntryPosted) for e in events)
    opened = [e for e in events if isinstance(e, AccountOpened)]
    assert {e.account_number: e.statement_email for e in opened} == plan.recipients
    assert len(set(plan.recipients.values())) == 5
    assert all(b > 0 for b in balances.values())


def test_the_requested_period_is_over_and_holds_every_entry_but_no_scheduled_period_ended() -> None:
    # Just after midnight in Auckland, and mid-afternoon: the close delay never gets in the way.
    for now in (datetime(2026, 11, 24, 11, 5, tzinfo=UTC), datetime(2026, 3, 31, 3, 0, tzinfo=UTC)):
        plan = _plan(now)
        events = [account_event_adapter.validate_json(r.value) for r in plan.account_events]
        requested = {}
        assert plan.period_end <= last_closed_day(now, ZONE, close_delay=timedelta(minutes=15))
        for event in events:
            if isinstance(event, AccountOpened):
                terms = event.settlement_frequency
                frequency = Frequency(terms.every, terms.unit, terms.anchor)
                first = period_containing(frequency, business_day(event.occurred_at, ZONE))
                assert first.end > business_day(now, ZONE)  # nothing for the scheduler
                requested[event.account_number] = period_ending(frequency, plan.period_end)
            if isinstance(event, EntryPosted):
                day = business_day(event.entry.posted_at, ZONE)
                period = requested[event.account_number]
                assert period.start <= day <= period.end
        for record in plan.requests:
            request = StatementRequest.model_validate_json(record.value)
            assert request.deliver and request.period_end == plan.period_end
            assert record.key.decode() == request.account_number


def _emails(recipients: dict[str, str], period_end: date) -> list[Delivered]:
    return [
        Delivered((address,), address, {pdf_filename(number, period_end.isoformat()): PDF})
        for number, address in recipients.items()
    ]


def test_one_email_per_account_to_its_address_passes() -> None:
    plan = _plan(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    emails = _emails(plan.recipients, plan.period_end)
    assert delivery_problems(plan.recipients, plan.period_end, emails) == []


def test_missing_duplicate_misaddressed_and_broken_emails_fail() -> None:
    plan = _plan(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    _, second, third, fourth, fifth = _emails(plan.recipients, plan.period_end)
    misaddressed = replace(third, recipients=("someone@else.example",))
    broken = replace(fourth, attachments={name: b"<html>" for name in fourth.attachments})
    unnamed = replace(fifth, attachments={"invoice.pdf": PDF})
    problems = delivery_problems(
        plan.recipients, plan.period_end, [second, second, misaddressed, broken, unnamed]
    )
    numbers = list(plan.recipients)
    assert f"{numbers[0]} got 0 emails" in problems
    assert f"{numbers[1]} got 2 emails" in problems
    assert any(p.startswith(f"{numbers[2]}: sent to ['someone@else.example']") for p in problems)
    assert f"{numbers[3]}: the attachment is not a PDF" in problems
    assert any("has attachments ['invoice.pdf']" in p for p in problems)
    assert f"{numbers[4]} got 0 emails" in problems
    assert len(problems) == 6
