"""statements.requests.v1: on demand, rendered or emailed; every outcome published."""

from __future__ import annotations

from datetime import date, datetime
from email.message import EmailMessage

import pytest

from tests.statements.harness import AFTER_NOVEMBER, AUCKLAND, Statements
from tests.statements.pdf_text import pdf_text
from tests.support.naming import unique


def nov(day: int) -> datetime:
    return datetime(2026, 11, day, 10, tzinfo=AUCKLAND)


async def open_with_activity(statements: Statements) -> str:
    number = unique("ACC-")
    books = statements.books
    await statements.publish(
        books.opened(number, at=nov(2)),
        books.posted(number, "charge", "80.00", nov(5), "S-1"),
        books.posted(number, "charge", "20.00", nov(25), "S-2"),
    )
    await statements.stored(number, entries=2)
    statements.clock.set(AFTER_NOVEMBER)
    return number


async def test_rendered_on_request_then_emailed_by_the_schedule_once(
    statements: Statements,
) -> None:
    number = await open_with_activity(statements)

    request = await statements.request(number, deliver=False)
    [rendered] = await statements.outcomes(number)
    assert rendered["status"] == "rendered"
    assert rendered["request_event_id"] == request
    assert rendered["closing_balance"] == "100.00"
    assert rendered["delivered_to"] is None

    # The period's statement exists: the schedule emails that one, and makes no other.
    assert await statements.scheduler.make_due_statements(statements.clock.now()) == 1
    assert await statements.deliveries.deliver_due(statements.clock.now()) == 1
    [_, sent] = await statements.outcomes(number, count=2)
    assert sent["status"] == "sent"
    assert sent["statement_id"] == rendered["statement_id"]
    assert sent["request_event_id"] is None

    again = await statements.request(number, deliver=True)
    [_, _, answer] = await statements.outcomes(number, count=3)
    assert answer["request_event_id"] == again
    assert answer["status"] == "sent"
    assert "not sent again" in answer["detail"]
    await statements.replies.settle(0.3)
    assert len(statements.mail.messages) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_request_emails_and_its_repeat_gets_the_same_answer(statements: Statements) -> None:
    number = await open_with_activity(statements)
    payload = {"event_id": unique("rq-"), "account_number": number, "period_end": "2026-11-15"}
    topic = statements.topic("statements.requests.v1")

    await statements.producer.send(topic, payload, number)
    await statements.stored(number, entries=2)
    await until_waiting(statements, payload["event_id"])
    assert await statements.deliveries.deliver_due(statements.clock.now()) == 1
    await statements.outcomes(number)
    await statements.producer.send(topic, payload, number)
    [first, repeated] = await statements.outcomes(number, count=2)

    assert first == repeated
    assert first["request_event_id"] == payload["event_id"]
    assert first["status"] == "sent"
    # An on-demand period end inside a period: from the start of that period up to it.
    assert (first["period_start"], first["period_end"]) == ("2026-11-01", "2026-11-15")
    assert first["closing_balance"] == "80.00"
    [caught] = statements.mail.wait_for(1, timeout_s=5)
    [attachment] = caught.message.iter_attachments()
    assert isinstance(attachment, EmailMessage)
    assert "1 Nov 2026 to 15 Nov 2026" in pdf_text(attachment.get_content())
    await statements.replies.settle(0.3)
    assert len(statements.mail.messages) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_unusable_requests_go_to_the_dead_letters_without_a_statement(
    statements: Statements,
) -> None:
    number = await open_with_activity(statements)
    topic = statements.topic("statements.requests.v1")

    await statements.producer.send(topic, b'{"event_id": "rq-1", "period_end": "Nov"}', number)
    await statements.request(unique("ACC-"), date(2026, 11, 30))
    await statements.request(number, date(2026, 12, 1))  # today: the period is not over
    await statements.request(number, deliver=False)

    letters = await statements.dead_letters(count=3)
    errors = " | ".join(letter["error"] for letter in letters)
    assert "account_number: Field required" in errors
    assert "is unknown to the statements service" in errors
    assert "the period ending 2026-12-01 is not over" in errors
    # Only the good request is answered: a statement that was never made has no outcome.
    [rendered] = await statements.outcomes(number)
    assert rendered["status"] == "rendered"
    await statements.replies.settle(0.3)
    assert len(statements.replies.messages(statements.topic("statements.sent.v1"))) == 1


async def until_waiting(statements: Statements, request_event_id: str) -> None:
    """Waits until the worker has taken the request (its statement is due to be emailed)."""
    from sqlalchemy import select

    from services.statements.tables import statement_requests

    for _ in range(400):
        async with statements.worker.engine.connect() as conn:
            found = await conn.scalar(
                select(statement_requests.c.statement_id).where(
                    statement_requests.c.request_event_id == request_event_id
                )
            )
        if found is not None:
            return
        await statements.replies.settle(0.05)
    raise AssertionError(f"request {request_event_id} was not taken")
