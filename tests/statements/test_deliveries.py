"""Delivery failures: retried with capped backoff then failed; a crash mid-send is never
resent on its own; a request sends either again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import NoResultFound

from services.common.clock import SetClock
from services.common.settings import RuntimeSettings
from services.local.mail_catcher import MailCatcher
from services.local.process import free_port
from services.statements.mail import message_id_for
from services.statements.tables import statements as statement_rows
from tests.statements.harness import (
    AFTER_NOVEMBER,
    AUCKLAND,
    SENDER,
    START,
    Statements,
    running_statements,
    statements_settings,
)
from tests.support.naming import unique


async def november_statement(statements: Statements) -> str:
    number = unique("ACC-")
    books = statements.books
    at = datetime(2026, 11, 3, 10, tzinfo=AUCKLAND)
    await statements.publish(
        books.opened(number, at=at), books.posted(number, "charge", "64.00", at, "S-1")
    )
    await statements.stored(number, entries=1)
    statements.clock.set(AFTER_NOVEMBER)
    assert await statements.scheduler.make_due_statements(statements.clock.now()) == 1
    return number


async def status_of(statements: Statements, number: str) -> tuple[str, int]:
    async with statements.worker.engine.connect() as conn:
        row = (
            await conn.execute(
                select(statement_rows.c.status, statement_rows.c.attempts).where(
                    statement_rows.c.account_number == number
                )
            )
        ).one()
    return row.status, row.attempts


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_unreachable_mail_server_is_retried_with_backoff_then_failed_then_resent(
    settings: RuntimeSettings, database_url: str
) -> None:
    port = free_port()  # nothing listens here until the mail server comes back
    config = statements_settings(settings, database_url, ("127.0.0.1", port))
    catcher = MailCatcher(port=port)
    async with running_statements(config, SetClock(START), catcher) as statements:
        number = await november_statement(statements)
        deliveries, clock = statements.deliveries, statements.clock

        assert await deliveries.deliver_due(clock.now()) == 1
        assert await status_of(statements, number) == ("pending", 1)
        assert await deliveries.deliver_due(clock.now() + timedelta(seconds=59)) == 0
        clock.advance(timedelta(seconds=60))
        assert await deliveries.deliver_due(clock.now()) == 1
        assert await deliveries.deliver_due(clock.now() + timedelta(seconds=119)) == 0
        clock.advance(timedelta(seconds=120))
        assert await deliveries.deliver_due(clock.now()) == 1

        [failed] = await statements.outcomes(number)
        assert failed["status"] == "failed"
        assert failed["detail"].startswith("not delivered after 3 attempts: cannot reach")
        assert failed["delivered_to"] is None
        assert await status_of(statements, number) == ("failed", 3)
        clock.advance(timedelta(hours=1))
        assert await deliveries.deliver_due(clock.now()) == 0

        # The mail server is back; a back office asks for the statement again.
        with catcher:
            request = await statements.request(number)
            await until_status(statements, number, "pending")
            assert await deliveries.deliver_due(clock.now()) == 1
            [_, sent] = await statements.outcomes(number, count=2)
            [caught] = await catcher.arrived(1, timeout_s=5)
    assert sent["status"] == "sent"
    assert sent["request_event_id"] == request
    assert caught.message["Message-ID"] == message_id_for(f"{number}/2026-11-30", SENDER)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_statement_left_sending_by_a_stopped_worker_is_unconfirmed_not_resent(
    settings: RuntimeSettings, database_url: str, mail: MailCatcher
) -> None:
    clock = SetClock(START)
    async with silent_smtp_server() as port:
        stuck = statements_settings(settings, database_url, ("127.0.0.1", port), SMTP_TIMEOUT_S=1)
        async with running_statements(stuck, clock, mail) as statements:
            number = await november_statement(statements)
            sending = asyncio.create_task(statements.deliveries.deliver_due(clock.now()))
            await until_status(statements, number, "sending")
            sending.cancel()  # the worker stops while the mail server has the statement
            with pytest.raises(asyncio.CancelledError):
                await sending

    # A worker starts again, with a mail server that works. (A group of its own spares the
    # test the broker's wait for the stopped member; the inbox makes the replay harmless.)
    fixed = statements_settings(
        settings, database_url, (mail.host, mail.port), TABS_CONSUMER_GROUP_PREFIX=unique("g")
    )
    async with running_statements(fixed, clock, mail) as statements:
        deliveries = statements.deliveries
        assert await deliveries.deliver_due(clock.now()) == 0  # it may still be sending
        clock.advance(timedelta(seconds=fixed.sending_lease_s))
        assert await deliveries.deliver_due(clock.now()) == 0
        assert await status_of(statements, number) == ("unconfirmed", 1)
        [unconfirmed] = await statements.outcomes(number)
        message_id = message_id_for(f"{number}/2026-11-30", SENDER)
        assert unconfirmed["status"] == "failed"
        assert unconfirmed["detail"].startswith("delivery unconfirmed: the worker stopped")
        assert message_id in unconfirmed["detail"]
        clock.advance(timedelta(days=1))
        assert await deliveries.deliver_due(clock.now()) == 0
        assert mail.messages == []

        # A person checked the mail log and asks for it to be sent.
        request = await statements.request(number)
        await until_status(statements, number, "pending")
        assert await deliveries.deliver_due(clock.now()) == 1
        [_, sent] = await statements.outcomes(number, count=2)
    assert sent["status"] == "sent"
    assert sent["request_event_id"] == request
    [caught] = await mail.arrived(1, timeout_s=5)
    assert caught.message["Message-ID"] == message_id


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_statement_reported_unconfirmed_while_it_waited_in_the_pass_is_not_sent(
    settings: RuntimeSettings, database_url: str, mail: MailCatcher
) -> None:
    """One send at a time and a slow mail server: the second statement of a pass waits so
    long that another replica reports it unconfirmed (its lease ran out). Then it must not be
    sent: a customer would get a statement the back office was told had failed."""
    async with held_first_connection((mail.host, mail.port)) as relay:
        config = statements_settings(
            settings, database_url, ("127.0.0.1", relay.port), STATEMENT_SENDS_CONCURRENT_MAX=1
        )
        async with running_statements(config, SetClock(START), mail) as statements:
            numbers = [await november_statement(statements), await november_statement(statements)]
            deliveries, clock = statements.deliveries, statements.clock
            passing = asyncio.create_task(deliveries.deliver_due(clock.now()))
            for _ in range(200):
                if relay.connections:
                    break
                await asyncio.sleep(0.05)
            assert relay.connections == 1, "the first statement is being sent"
            later = clock.now() + timedelta(seconds=config.sending_lease_s + 1)
            assert await deliveries.release_stalled(later) == 2
            relay.release.set()
            assert await passing == 2
            statuses = sorted([await status_of(statements, n) for n in numbers])
    # The first was in the mail server's hands: known sent once it answered. The second
    # never started.
    assert statuses == [("sent", 1), ("unconfirmed", 1)]
    assert relay.connections == 1
    assert len(mail.messages) == 1


@dataclass
class HeldRelay:
    port: int = 0
    connections: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def held_first_connection(to: tuple[str, int]) -> AsyncIterator[HeldRelay]:
    """A TCP relay to a mail server that holds its first connection until released: a mail
    server slow to answer."""
    relay = HeldRelay()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relay.connections += 1
        if relay.connections == 1:
            await relay.release.wait()
        upstream_reader, upstream_writer = await asyncio.open_connection(*to)
        await asyncio.gather(
            pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True
        )

    server = await asyncio.start_server(forward, "127.0.0.1", 0)
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        relay.release.set()
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def silent_smtp_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word, like a mail server that hung."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def until_status(statements: Statements, number: str, status: str) -> None:
    for _ in range(400):
        with contextlib.suppress(NoResultFound):  # the statement is not made yet
            if (await status_of(statements, number))[0] == status:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"statement of {number} never became {status}")
