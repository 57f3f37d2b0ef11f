"""Two replicas running their own schedule and deliveries over one period: each statement is
made once and emailed once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from services.common.clock import SetClock
from services.common.settings import RuntimeSettings
from services.common.worker import Worker
from services.local.mail_catcher import MailCatcher
from services.statements.app import SPEC
from services.statements.tables import statements as statement_rows
from shared.topics import STATEMENTS_SENT
from tests.statements.harness import (
    AFTER_NOVEMBER,
    AUCKLAND,
    START,
    Books,
    Statements,
    statements_settings,
)
from tests.support.kafka import Collector, Producer
from tests.support.naming import unique

ACCOUNTS = 8


async def test_two_replicas_email_each_statement_once(
    settings: RuntimeSettings, database_url: str, mail: MailCatcher
) -> None:
    config = statements_settings(
        settings,
        database_url,
        (mail.host, mail.port),
        # The replicas' own loops do the work here, as in production, only more often.
        STATEMENT_SCHEDULE_INTERVAL_S=0.05,
        STATEMENT_DELIVERY_INTERVAL_S=0.05,
        STATEMENT_ACCOUNTS_PER_PASS_MAX=3,
        STATEMENT_SENDS_PER_PASS_MAX=2,
    )
    clock = SetClock(START)
    replicas = [Worker(SPEC, config, database_url, clock=clock) for _ in range(2)]
    for replica in replicas:
        await replica.start()
    producer = Producer(config.kafka_bootstrap_servers)
    outcomes = Collector(config.kafka_bootstrap_servers, [config.topic(STATEMENTS_SENT)])
    await producer.start()
    await outcomes.start()
    try:
        harness = Statements(config, replicas[0], clock, producer, outcomes, mail, Books())
        at = datetime(2026, 11, 4, 12, tzinfo=AUCKLAND)
        numbers = [unique("ACC-") for _ in range(ACCOUNTS)]
        for number in numbers:
            await harness.publish(
                harness.books.opened(number, at=at, email=f"{number.lower()}@example.com"),
                harness.books.posted(number, "charge", "12.34", at, "S-1"),
            )
        for number in numbers:
            await harness.stored(number, entries=1)

        clock.set(AFTER_NOVEMBER)
        sent = await outcomes.wait_for(
            config.topic(STATEMENTS_SENT), lambda m: m["status"] == "sent", count=ACCOUNTS
        )
        await outcomes.settle(1.0)
        await mail.arrived(ACCOUNTS, timeout_s=1)
    finally:
        await outcomes.stop()
        await producer.stop()
        for replica in replicas:
            await replica.stop()

    recipients = Counter(to for message in mail.messages for to in message.rcpt_tos)
    assert recipients == Counter(f"{n.lower()}@example.com" for n in numbers)
    assert len(outcomes.messages(config.topic(STATEMENTS_SENT))) == ACCOUNTS
    assert sorted(m["account_number"] for m in sent) == sorted(numbers)
    check = Worker(SPEC, config, database_url, clock=clock)
    try:
        async with check.engine.connect() as conn:
            rows = (
                await conn.execute(select(statement_rows.c.status, statement_rows.c.attempts))
            ).all()
    finally:
        await check.engine.dispose()
    assert sorted(rows) == [("sent", 1)] * ACCOUNTS
