"""Unsubscribes and bounces in Mailchimp come back through the webhook receiver on the CRM
worker's HTTP port and withdraw consent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.clock import SetClock
from services.crm.domain.audience import subscriber_hash
from services.local.mailchimp import MailchimpServer, make_client
from tests.conftest import create_postgres_database
from tests.crm.conftest import START
from tests.crm.harness import Crm, crm_harness, crm_settings, runtime_settings
from tests.support.naming import unique

SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture(scope="module")
async def hooked(
    kafka_bootstrap: str, redis_url: str, postgres_server: str, mailchimp_stand_in: MailchimpServer
) -> AsyncIterator[Crm]:
    database_url = await create_postgres_database(postgres_server)
    config = crm_settings(runtime_settings(kafka_bootstrap, redis_url), mailchimp_stand_in)
    async with crm_harness(config, database_url, mailchimp_stand_in, SetClock(START)) as harness:
        yield harness


@pytest.fixture
async def crm(hooked: Crm, mailchimp: MailchimpServer) -> Crm:
    """The worker, with its receiver registered on the freshly reset audience."""
    client = make_client(mailchimp.api_url, mailchimp.api_key)
    await asyncio.to_thread(
        client.lists.create_list_webhook,
        mailchimp.audience_id,
        {"url": receiver(hooked, SECRET), "events": {"unsubscribe": True, "cleaned": True}},
    )
    return hooked


def receiver(crm: Crm, secret: str) -> str:
    return f"http://127.0.0.1:{crm.worker.http_port}/webhooks/mailchimp/{secret}"


async def member_of(crm: Crm) -> tuple[str, str]:
    customer_id = unique("C-")
    email = f"{customer_id.lower()}@example.com"
    await crm.customer(customer_id, email=email, marketing_opt_in=True, opt_in_source="web")
    await crm.view_when(customer_id, lambda v: v["mailchimp"]["status"] == "subscribed")
    return customer_id, email


async def test_receiver_answers_mailchimps_validation_only_with_the_secret(crm: Crm) -> None:
    async with httpx.AsyncClient() as client:
        valid = await client.get(receiver(crm, SECRET))
        wrong = await client.get(receiver(crm, "not-the-secret-at-all"))
        forged = await client.post(
            receiver(crm, "not-the-secret-at-all"),
            data={"type": "unsubscribe", "data[email]": "x@example.com"},
        )
    assert valid.status_code == 200
    assert wrong.status_code == forged.status_code == 404


async def test_recipient_unsubscribe_withdraws_consent(crm: Crm) -> None:
    customer_id, email = await member_of(crm)
    path = f"/lists/{crm.mailchimp.audience_id}/members/{subscriber_hash(email)}/unsubscribe"
    sent = await crm.admin("POST", path, json={"reason": "manual"})
    assert [w["status"] for w in sent["webhooks"]] == [200]
    view = await crm.view_when(customer_id, lambda v: v["consent"]["state"] == "opted_out")
    assert view["consent"]["source"] == "mailchimp:unsubscribe"
    assert view["mailchimp"]["status"] == "unsubscribed"
    # A later change to the customer does not resubscribe them.
    await crm.customer(customer_id, first_name="Later")
    await crm.view_when(customer_id, lambda v: v["first_name"] == "Later")
    await asyncio.sleep(0.3)
    assert (await crm.audience())[email]["status"] == "unsubscribed"


async def test_cleaned_address_withdraws_consent(crm: Crm) -> None:
    customer_id, email = await member_of(crm)
    path = f"/lists/{crm.mailchimp.audience_id}/members/{subscriber_hash(email)}/clean"
    await crm.admin("POST", path)
    view = await crm.view_when(customer_id, lambda v: v["consent"]["state"] == "opted_out")
    assert view["consent"]["source"] == "mailchimp:cleaned"
    assert view["mailchimp"]["status"] == "cleaned"


async def test_delivered_twice_or_for_a_stranger_changes_nothing_more(crm: Crm) -> None:
    customer_id, email = await member_of(crm)
    form = {"type": "unsubscribe", "data[email]": email, "data[list_id]": "a1b2c3d4e5"}
    async with httpx.AsyncClient() as client:
        first = await client.post(receiver(crm, SECRET), data=form)
        again = await client.post(receiver(crm, SECRET), data=form)
        stranger = await client.post(
            receiver(crm, SECRET), data={**form, "data[email]": "nobody@example.com"}
        )
        profile = await client.post(receiver(crm, SECRET), data={**form, "type": "profile"})
    assert first.json()["customers"] == again.json()["customers"] == 1
    assert stranger.json()["customers"] == 0
    assert profile.json()["status"] == "ignored"
    view = await crm.view_when(customer_id, lambda v: v["consent"]["state"] == "opted_out")
    assert view["consent"]["source"] == "mailchimp:unsubscribe"
