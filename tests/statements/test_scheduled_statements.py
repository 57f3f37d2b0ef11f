"""Scheduled statements end to end: events in, one email and one outcome per period out."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage

from services.statements.mail import message_id_for
from shared.terms import SettlementFrequency
from tests.statements.harness import AFTER_NOVEMBER, AUCKLAND, SENDER, START, Statements
from tests.statements.pdf_text import pdf_text
from tests.support.naming import unique


def nov(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=AUCKLAND)


async def test_period_statement_is_made_emailed_and_published_once(
    statements: Statements,
) -> None:
    number = unique("ACC-")
    books = statements.books
    await statements.publish(
        books.opened(number, at=nov(2)),
        books.posted(number, "opening_balance", "300.00", nov(2), "c-open", due_in_days=0),
        books.posted(number, "charge", "125.50", nov(10), "S-100045"),
        books.posted(number, "payment", "-100.00", nov(18), "PAY-7"),
        books.posted(number, "credit_note", "-0.0050", nov(19), "CN-1"),
    )
    await statements.stored(number, entries=4)
    scheduler, deliveries = statements.scheduler, statements.deliveries

    assert await scheduler.make_due_statements(statements.clock.now()) == 0  # not over yet
    statements.clock.set(AFTER_NOVEMBER)
    assert await scheduler.make_due_statements(statements.clock.now()) == 1
    assert await scheduler.make_due_statements(statements.clock.now()) == 0
    assert await deliveries.deliver_due(statements.clock.now()) == 1

    [caught] = await statements.mail.arrived(1, timeout_s=10)
    [outcome] = await statements.outcomes(number)
    statement_id = f"{number}/2026-11-30"
    assert outcome == {
        **outcome,
        "event_id": outcome["event_id"],
        "statement_id": statement_id,
        "status": "sent",
        "delivered_to": "accounts@hammer.example",
        "period_start": "2026-11-01",
        "period_end": "2026-11-30",
        "opening_balance": "0.00",
        "closing_balance": "325.495",
        "amount_due": "325.495",
        "due_date": "2026-12-20",
        "currency": "NZD",
        "request_event_id": None,
        "detail": None,
    }
    # Credits settle the oldest first: the opening balance (due 2 Nov) is 28 days late.
    assert outcome["aging"] == {
        "current": "125.50",
        "1_30": "199.995",
        "31_60": "0.00",
        "61_90": "0.00",
        "over_90": "0.00",
    }

    message = caught.message
    assert caught.rcpt_tos == ("accounts@hammer.example",)
    assert caught.mail_from == SENDER
    assert message["Message-ID"] == message_id_for(statement_id, SENDER)
    assert "Kauri Hardware Ltd" in message["From"]
    assert "period ending 30 Nov 2026" in message["Subject"]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    assert "Amount due:   NZD 325.495" in text.get_content()
    assert "Hammer &amp; Sons Ltd" in html.get_content()
    [attachment] = message.iter_attachments()
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_filename() == f"statement-{number}-2026-11-30.pdf"
    printed = pdf_text(attachment.get_content())
    for expected in (
        "STATEMENT",
        "Hammer & Sons Ltd",
        number,
        "1 Nov 2026 to 30 Nov 2026",
        "Balance brought forward",
        "Opening balance",
        "S-100045",
        "Charge",
        "Payment",
        "Credit note",
        "Closing balance",
        "325.495",
        "Due by 20 Dec 2026",
        "Aged balance as of 30 Nov 2026",
        "199.995",
        "Bank transfer to 12-3456-7890123-00.",
        "REMITTANCE ADVICE",
    ):
        assert expected in printed, expected

    # However often the schedule and the deliveries run again, nothing more goes out.
    later = AFTER_NOVEMBER + timedelta(hours=5)
    assert await scheduler.make_due_statements(later) == 0
    assert await deliveries.deliver_due(later) == 0
    await statements.replies.settle(0.5)
    assert len(statements.mail.messages) == 1
    assert len(await statements.outcomes(number)) == 1


async def test_weekly_account_gets_a_statement_per_week_and_none_for_a_quiet_week(
    statements: Statements,
) -> None:
    number = unique("ACC-")
    books = statements.books
    weekly = SettlementFrequency(every=1, unit="week", anchor=START.date() - timedelta(days=5))
    opened_at = datetime(2026, 11, 1, 9, tzinfo=AUCKLAND)
    await statements.publish(
        books.opened(number, frequency=weekly, at=opened_at),
        books.posted(number, "charge", "10.00", opened_at, "S-1"),
        books.posted(number, "payment", "-10.00", opened_at + timedelta(days=1), "PAY-1"),
        books.posted(number, "charge", "7.00", opened_at + timedelta(days=20), "S-2"),
    )
    await statements.stored(number, entries=3)
    statements.clock.set(AFTER_NOVEMBER)

    made = await statements.scheduler.make_due_statements(statements.clock.now())

    # Weeks end on Sundays (anchor 15 Nov): 1 Nov, 8 Nov (activity), 15 Nov (nothing owed,
    # nothing happened: no statement), 22 Nov (the 7.00 charge), 29 Nov (7.00 carried).
    assert made == 4
    await statements.deliveries.deliver_due(statements.clock.now())
    outcomes = await statements.outcomes(number, count=4)
    periods = sorted((o["period_start"], o["period_end"], o["closing_balance"]) for o in outcomes)
    assert periods == [
        ("2026-10-26", "2026-11-01", "10.00"),
        ("2026-11-02", "2026-11-08", "0.00"),
        ("2026-11-16", "2026-11-22", "7.00"),
        ("2026-11-23", "2026-11-29", "7.00"),
    ]
