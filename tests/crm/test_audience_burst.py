"""A burst of 1,000 customer changes while Mailchimp throttles (a 3-connection limit and added
latency, so the CRM's own limit of 10 meets 429s): once the queue drains, the audience is what
the CRM says, member for member."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.common.clock import SetClock
from services.common.database import create_engine
from services.crm import audience_repository, repository
from services.local.mailchimp import MailchimpServer
from shared.topics import CRM_CUSTOMERS
from tests.conftest import create_postgres_database
from tests.crm.conftest import START
from tests.crm.harness import Crm, crm_harness, crm_settings, eventually, runtime_settings
from tests.support.naming import unique


@dataclass
class Expected:
    email: str
    first_name: str
    tags: list[str]
    opted_in: bool | None
    old_emails: list[str] = field(default_factory=list)


@pytest.fixture
async def burst(
    kafka_bootstrap: str, redis_url: str, postgres_server: str, mailchimp: MailchimpServer
) -> AsyncIterator[tuple[Crm, str]]:
    database_url = await create_postgres_database(postgres_server)
    config = crm_settings(runtime_settings(kafka_bootstrap, redis_url), mailchimp)
    async with crm_harness(config, database_url, mailchimp, SetClock(START)) as harness:
        yield harness, database_url


def change(customer_id: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return customer_id, {"event_id": unique("cu-"), "customer_id": customer_id, **fields}


async def test_burst_of_1000_changes_under_throttling_ends_with_audience_equal_to_crm(
    burst: tuple[Crm, str],
) -> None:
    crm, database_url = burst
    await crm.admin("POST", "/config", json={"max_connections": 3, "latency": 0.02})
    run = unique("b")
    people: dict[str, Expected] = {}
    first_wave = []
    for n in range(500):
        customer_id = f"{run}-{n:03}"
        consents = n < 400  # 100 who never opted in
        expected = Expected(f"{customer_id}@example.com", f"F{n}", [f"t{n % 7}"], consents or None)
        people[customer_id] = expected
        fields: dict[str, Any] = {
            "email": expected.email,
            "first_name": expected.first_name,
            "tags": expected.tags,
        }
        if consents:
            fields["marketing_opt_in"] = True
        first_wave.append(change(customer_id, **fields))
    started = time.monotonic()
    await crm.send_many(CRM_CUSTOMERS, first_wave)

    async def some_synced() -> bool:
        return len(await crm.audience()) >= 100

    await eventually(some_synced, timeout_s=30)  # the second wave meets members mid-sync
    second_wave = []
    ids = sorted(people)
    for n, customer_id in enumerate(ids[:200]):  # new names and tags
        people[customer_id].first_name = f"G{n}"
        people[customer_id].tags = ["t-new", f"t{n % 3}"]
        second_wave.append(change(customer_id, first_name=f"G{n}", tags=people[customer_id].tags))
    for customer_id in ids[200:300]:  # opt out
        people[customer_id].opted_in = False
        second_wave.append(change(customer_id, marketing_opt_in=False))
    for customer_id in ids[300:400]:  # a new address
        expected = people[customer_id]
        expected.old_emails.append(expected.email)
        expected.email = f"moved-{expected.email}"
        second_wave.append(change(customer_id, email=expected.email))
    for customer_id in ids[400:500]:  # consent at last
        people[customer_id].opted_in = True
        second_wave.append(change(customer_id, marketing_opt_in=True))
    assert len(first_wave) + len(second_wave) == 1000
    await crm.send_many(CRM_CUSTOMERS, second_wave)

    engine = create_engine(database_url)
    try:

        async def drained() -> bool:
            async with engine.connect() as conn:
                customers = await repository.find_customers(conn, people)
                queued = await audience_repository.queue_length(conn)
            applied = all(c.email == people[i].email for i, c in customers.items())
            return len(customers) == len(people) and applied and queued == 0

        await eventually(drained, timeout_s=60)
        elapsed = time.monotonic() - started
        async with engine.connect() as conn:
            crm_side = await repository.find_customers(conn, people)
            failed = [
                m
                for m in (await audience_repository.all_members(conn)).values()
                if m.state == "failed"
            ]
    finally:
        await engine.dispose()

    assert failed == []
    audience = await crm.audience()
    expected_members = set()
    for customer_id, expected in people.items():
        customer = crm_side[customer_id]
        assert (
            customer.email,
            customer.first_name,
            list(customer.tags),
            customer.marketing_opt_in,
        ) == (
            expected.email,
            expected.first_name,
            expected.tags,
            expected.opted_in,
        )
        member = audience.get(expected.email)
        for old in expected.old_emails:
            assert old not in audience or audience[old]["status"] == "archived", old
        if expected.opted_in:
            assert member is not None, customer_id
            assert member["status"] == "subscribed"
            assert member["merge_fields"]["FNAME"] == expected.first_name
            assert member["tags"] == sorted(expected.tags)
            expected_members.add(expected.email)
        elif member is not None:
            # Synced before the opt-out arrived: unsubscribed, never deleted.
            assert expected.opted_in is False and member["status"] == "unsubscribed"
            expected_members.add(expected.email)
    live = {e for e, m in audience.items() if m["status"] != "archived"}
    assert live == expected_members
    assert elapsed < 60
