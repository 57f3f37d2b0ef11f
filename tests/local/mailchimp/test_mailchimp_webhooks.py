"""Webhooks: URL validation by GET, then form-encoded events when a recipient unsubscribes
or an address bounces. Runs the stand-in on the test's own event loop."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from mailchimp_marketing.api_client import ApiClientError

from services.local.mailchimp import MailchimpServer, make_client, subscriber_hash


@dataclass
class Receiver:
    url: str = ""
    get_status: int = 200
    validations: list[str] = field(default_factory=list)
    posts: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    seen = Receiver()

    async def validate(request: web.Request) -> web.Response:
        seen.validations.append(request.headers.get("User-Agent", ""))
        return web.Response(status=seen.get_status, text="ok")

    async def event(request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        seen.posts.append((request.content_type, form))
        seen.arrived.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/hooks/mailchimp", validate)
    app.router.add_post("/hooks/mailchimp", event)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    seen.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/mailchimp?secret=s3"
    yield seen
    await runner.cleanup()


@pytest.fixture
async def mailchimp() -> AsyncIterator[MailchimpServer]:
    async with MailchimpServer(audience_id="feedbeef01") as server:
        yield server


async def test_admin_unsubscribe_fires_form_encoded_webhook(
    mailchimp: MailchimpServer, receiver: Receiver
) -> None:
    client = make_client(mailchimp.api_url, mailchimp.api_key)
    list_id = mailchimp.audience_id
    hook = await asyncio.to_thread(
        client.lists.create_list_webhook,
        list_id,
        {"url": receiver.url, "events": {"unsubscribe": True, "cleaned": True}},
    )
    assert receiver.validations == ["MailChimp.com WebHook Validator"]
    assert hook["url"] == receiver.url
    assert hook["sources"] == {"user": True, "admin": True, "api": False}
    listed = await asyncio.to_thread(client.lists.get_list_webhooks, list_id)
    assert [h["id"] for h in listed["webhooks"]] == [hook["id"]]

    email = "Pat@Example.com"
    body = {"email_address": email, "status_if_new": "subscribed", "merge_fields": {"FNAME": "Pat"}}
    member = await asyncio.to_thread(
        client.lists.set_list_member, list_id, subscriber_hash(email), body
    )

    async with aiohttp.ClientSession() as session:
        path = f"/_admin/lists/{list_id}/members/{member['id']}/unsubscribe"
        async with session.post(mailchimp.url + path, json={"campaign_id": "c4mp41gn"}) as r:
            answer: dict[str, Any] = await r.json()
    assert answer["member"]["status"] == "unsubscribed"
    assert [w["status"] for w in answer["webhooks"]] == [200]

    content_type, form = receiver.posts[0]
    assert content_type == "application/x-www-form-urlencoded"
    assert form["type"] == "unsubscribe"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", form["fired_at"])
    assert form["data[action]"] == "unsub"
    assert form["data[reason]"] == "manual"
    assert form["data[id]"] == member["unique_email_id"]
    assert form["data[list_id]"] == list_id
    assert form["data[email]"] == email
    assert form["data[email_type]"] == "html"
    assert form["data[merges][EMAIL]"] == email
    assert form["data[merges][FNAME]"] == "Pat"
    assert form["data[campaign_id]"] == "c4mp41gn"

    with pytest.raises(ApiClientError) as raised:
        await asyncio.to_thread(
            client.lists.set_list_member, list_id, member["id"], {"status": "subscribed"}
        )
    assert raised.value.status_code == 400


async def test_clean_fires_cleaned_webhook(mailchimp: MailchimpServer, receiver: Receiver) -> None:
    client = make_client(mailchimp.api_url, mailchimp.api_key)
    list_id = mailchimp.audience_id
    await asyncio.to_thread(client.lists.create_list_webhook, list_id, {"url": receiver.url})
    email = "bounce@example.com"
    body = {"email_address": email, "status_if_new": "subscribed"}
    await asyncio.to_thread(client.lists.set_list_member, list_id, subscriber_hash(email), body)

    async with aiohttp.ClientSession() as session:
        path = f"/_admin/lists/{list_id}/members/{subscriber_hash(email)}/clean"
        async with session.post(mailchimp.url + path) as r:
            assert r.status == 200
    await asyncio.wait_for(receiver.arrived.wait(), 5)
    _, form = receiver.posts[0]
    assert {k: v for k, v in form.items() if k != "fired_at"} == {
        "type": "cleaned",
        "data[list_id]": list_id,
        "data[campaign_id]": "",
        "data[reason]": "hard",
        "data[email]": email,
    }


async def test_webhook_url_must_answer_200(mailchimp: MailchimpServer, receiver: Receiver) -> None:
    receiver.get_status = 404
    client = make_client(mailchimp.api_url, mailchimp.api_key)
    with pytest.raises(ApiClientError) as raised:
        await asyncio.to_thread(
            client.lists.create_list_webhook, mailchimp.audience_id, {"url": receiver.url}
        )
    assert raised.value.status_code == 400
    assert receiver.validations == ["MailChimp.com WebHook Validator"]
    listed = await asyncio.to_thread(client.lists.get_list_webhooks, mailchimp.audience_id)
    assert listed["total_items"] == 0
