"""The delivery loop's pace: after a full pass it goes straight on to the next, so a queue
longer than a pass is not held to one pass per interval."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import datetime

from sqlalchemy import select

from services.common.clock import SetClock
from services.common.settings import RuntimeSettings
from services.local.mail_catcher import MailCatcher
from services.statements.tables import statements as statement_rows
from tests.statements.harness import (
    AFTER_NOVEMBER,
    AUCKLAND,
    START,
    Statements,
    running_statements,
    statements_settings,
)
from tests.support.naming import unique

PER_PASS = 2
ACCOUNTS = 5  # two full passes and one that drains the queue
# Far beyond the wait below: with a pause after every pass, only the first pass would be sent.
INTERVAL_S = 60
WAIT_S = 20


async def rows(statements: Statements) -> list[tuple[str, int]]:
    async with statements.worker.engine.connect() as conn:
        result = await conn.execute(select(statement_rows.c.status, statement_rows.c.attempts))
        return sorted((row.status, row.attempts) for row in result)


async def test_queue_longer_than_a_pass_is_emailed_without_waiting_the_interval(
    settings: RuntimeSettings, database_url: str, mail: MailCatcher
) -> None:
    config = statements_settings(
        settings,
        database_url,
        (mail.host, mail.port),
        STATEMENT_SENDS_PER_PASS_MAX=PER_PASS,
        STATEMENT_DELIVERY_INTERVAL_S=INTERVAL_S,
    )
    async with running_statements(config, SetClock(START), mail) as statements:
        # The worker's own loop looked at start, found nothing, and waits its minute.
        books = statements.books
        at = datetime(2026, 11, 3, 10, tzinfo=AUCKLAND)
        numbers = [unique("ACC-") for _ in range(ACCOUNTS)]
        for number in numbers:
            await statements.publish(
                books.opened(number, at=at, email=f"{number.lower()}@example.com"),
                books.posted(number, "charge", "64.00", at, "S-1"),
            )
        for number in numbers:
            await statements.stored(number, entries=1)
        statements.clock.set(AFTER_NOVEMBER)
        made = await statements.scheduler.make_due_statements(statements.clock.now())
        assert made == ACCOUNTS
        assert await rows(statements) == [("pending", 0)] * ACCOUNTS

        # The loop as the worker runs it, with the worker's settings.
        loop = asyncio.create_task(statements.deliveries.run_deliveries())
        try:
            caught = await asyncio.to_thread(mail.wait_for, ACCOUNTS, WAIT_S)
            outcomes = [(await statements.outcomes(number))[0] for number in numbers]
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        assert await rows(statements) == [("sent", 1)] * ACCOUNTS

    recipients = Counter(to for message in caught for to in message.rcpt_tos)
    assert recipients == Counter(f"{number.lower()}@example.com" for number in numbers)
    assert [outcome["status"] for outcome in outcomes] == ["sent"] * ACCOUNTS
