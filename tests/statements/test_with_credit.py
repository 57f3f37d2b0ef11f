"""The statements worker against the real credit worker: its store is built only from what
credit publishes on accounts.events.v1 (each has its own database), and its figures and aging
are the credit service's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from services.common.clock import SetClock
from services.common.settings import RuntimeSettings
from services.credit.app import SPEC as CREDIT
from services.local.mail_catcher import MailCatcher
from shared.topics import ACCOUNT_EVENTS, CREDIT_DECISIONS
from tests.conftest import create_postgres_database
from tests.statements.harness import AUCKLAND, running_statements, statements_settings
from tests.support.credit import Harness, authorize, open_account
from tests.support.kafka import Collector
from tests.support.naming import unique
from tests.support.workers import running_worker

# Statements at each month end: monthly from an anchor of 31 January.
MONTH_ENDS: dict[str, Any] = {
    "settlement_frequency": {"every": 1, "unit": "month", "anchor": "2026-01-31"}
}


def nz(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=AUCKLAND)


async def test_statements_agree_with_the_credit_ledger(
    settings: RuntimeSettings, postgres_server: str, mail: MailCatcher
) -> None:
    clock = SetClock(nz(10, 20))
    credit_url = await create_postgres_database(postgres_server)
    statements_url = await create_postgres_database(postgres_server)
    config = statements_settings(settings, statements_url, (mail.host, mail.port))
    number = unique("ACC-")
    async with (
        running_worker(CREDIT, settings, credit_url, clock=clock) as credit_worker,
        running_statements(config, clock, mail) as statements,
    ):
        events = Collector(
            settings.kafka_bootstrap_servers,
            [settings.topic(CREDIT_DECISIONS), settings.topic(ACCOUNT_EVENTS)],
        )
        await events.start()
        credit = Harness(settings, credit_worker, statements.producer, events)
        try:
            await credit.open(open_account(number, opening_balance="300.00", **MONTH_ENDS))
            clock.set(nz(11, 5))
            hammer = authorize(number, "125.50")
            await credit.sale(hammer)
            await credit.decision(hammer["event_id"])
            clock.set(nz(11, 12))
            nails = authorize(number, "40.00")
            await credit.sale(nails)
            await credit.decision(nails["event_id"])
            clock.set(nz(11, 20))
            await credit.command(payment(number, "200.00"))
            await credit.account_event("entry_posted", number)
            clock.set(nz(11, 25))
            await credit.sale({**nails, "event_id": unique("e-"), "stage": "voided"})
            await events.wait_for(
                settings.topic(ACCOUNT_EVENTS),
                lambda m: m.get("entry", {}).get("kind") == "charge_reversal",
            )
            await statements.stored(number, entries=5)

            clock.set(nz(11, 30, 23))
            async with httpx.AsyncClient() as client:
                response = await client.get(
                    f"http://127.0.0.1:{credit_worker.http_port}/v1/accounts/{number}",
                    headers={"Authorization": "Bearer test-token"},
                )
            ledger = response.json()
        finally:
            await events.stop()

        clock.set(nz(12, 1, 1))
        assert await statements.scheduler.make_due_statements(clock.now()) == 2
        assert await statements.deliveries.deliver_due(clock.now()) == 2
        october, november = sorted(
            await statements.outcomes(number, count=2), key=lambda m: m["period_end"]
        )

    assert (october["period_start"], october["period_end"]) == ("2026-10-01", "2026-10-31")
    assert october["closing_balance"] == "300.00"
    assert november["opening_balance"] == october["closing_balance"]
    assert november["closing_balance"] == ledger["balance"] == "225.50"
    assert november["aging"] == ledger["aging"]
    # The payment settled the opening balance first (due 20 Oct), leaving 100.00 of it 41 days
    # late; the void took its own sale off; the hammer is due 5 Dec.
    assert november["aging"] == {
        "current": "125.50",
        "1_30": "0.00",
        "31_60": "100.00",
        "61_90": "0.00",
        "over_90": "0.00",
    }
    assert len(mail.messages) == 2


def payment(number: str, amount: str) -> dict[str, object]:
    return {
        "command_id": unique("c-"),
        "issued_at": "2026-11-20T10:00:00+13:00",
        "issued_by": "back-office",
        "type": "record_payment",
        "account_number": number,
        "payment_id": unique("PAY-"),
        "amount": amount,
        "method": "bank_transfer",
    }
