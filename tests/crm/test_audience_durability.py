"""Changes queued while no worker can reach Mailchimp are not lost: the queue is in the
database, written with the change, and the next worker drains it."""

from __future__ import annotations

from services.common.clock import SetClock
from services.local.mailchimp import MailchimpServer
from tests.conftest import create_postgres_database
from tests.crm.conftest import START
from tests.crm.harness import crm_harness, crm_settings, runtime_settings
from tests.support.naming import unique


async def test_changes_made_while_sync_is_off_are_synced_by_the_next_worker(
    kafka_bootstrap: str, redis_url: str, postgres_server: str, mailchimp: MailchimpServer
) -> None:
    database_url = await create_postgres_database(postgres_server)
    base = runtime_settings(kafka_bootstrap, redis_url)
    people = [unique("C-") for _ in range(5)]
    offline = crm_settings(base, mailchimp, MAILCHIMP_API_KEY=None)
    async with crm_harness(offline, database_url, mailchimp, SetClock(START)) as crm:
        for customer_id in people:
            await crm.customer(
                customer_id, email=f"{customer_id}@example.com", marketing_opt_in=True
            )
        for customer_id in people:
            view = await crm.view_when(customer_id, lambda v: v["email"] is not None)
            assert view["mailchimp"]["state"] == "pending"
    assert await crm.audience() == {}

    online = crm_settings(base, mailchimp)
    async with crm_harness(online, database_url, mailchimp, SetClock(START)) as crm:
        for customer_id in people:
            await crm.view_when(customer_id, lambda v: v["mailchimp"]["state"] == "synced")
        audience = await crm.audience()
    assert sorted(audience) == sorted(f"{c}@example.com" for c in people)
