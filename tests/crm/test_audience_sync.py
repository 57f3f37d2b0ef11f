"""The Mailchimp sync through the real broker, database, Redis and the stand-in, with the
official client: consent decides membership, the fields and tags follow the customer, an
address change moves the member, and failures are retried or recorded as they deserve."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.clock import SetClock
from services.common.read_model import ReadModel
from services.crm.domain.audience import subscriber_hash
from services.crm.views import CustomerViews
from services.local.mailchimp import MailchimpServer, make_client
from shared.topics import CRM_CUSTOMERS
from tests.crm.conftest import START
from tests.crm.harness import Crm, crm_harness, crm_settings, runtime_settings
from tests.support.naming import unique
from tests.support.read_model import HeldAfterFirstRead

MEMBER_PUT = "PUT /lists/{list_id}/members/{subscriber_hash}"


@pytest.fixture(scope="module")
async def shared(
    kafka_bootstrap: str,
    redis_url: str,
    module_database_url: str,
    mailchimp_stand_in: MailchimpServer,
) -> AsyncIterator[Crm]:
    """One worker for the module; each test resets the stand-in and keeps to its own people."""
    config = crm_settings(runtime_settings(kafka_bootstrap, redis_url), mailchimp_stand_in)
    async with crm_harness(
        config, module_database_url, mailchimp_stand_in, SetClock(START)
    ) as harness:
        yield harness


@pytest.fixture
def crm(shared: Crm, mailchimp: MailchimpServer) -> Crm:
    return shared


def person() -> tuple[str, str]:
    customer_id = unique("C-")
    return customer_id, f"{customer_id.lower()}@example.com"


async def synced(crm: Crm, customer_id: str, **expected: Any) -> dict[str, Any]:
    def done(view: dict[str, Any]) -> bool:
        sync = view["mailchimp"]
        return sync["state"] in ("synced", "failed", "not_member") and all(
            sync.get(k) == v for k, v in expected.items()
        )

    return await crm.view_when(customer_id, done)


async def requests_to(crm: Crm, endpoint: str) -> int:
    counts: dict[str, int] = (await crm.admin("GET", "/requests"))["counts"]
    return counts.get(endpoint, 0)


async def test_opted_in_customer_becomes_a_member_with_fields_and_tags(crm: Crm) -> None:
    customer_id, email = person()
    await crm.customer(
        customer_id,
        email=email.upper(),
        first_name="Pat",
        last_name="Lee",
        mobile="+64 21 555 0101",
        birthday="1990-04-07",
        tags=["vip", "trade"],
        marketing_opt_in=True,
    )
    view = await synced(crm, customer_id, status="subscribed")
    member = (await crm.audience())[email.upper()]
    assert member["id"] == subscriber_hash(email)
    assert member["status"] == "subscribed"
    assert member["merge_fields"] == {
        "FNAME": "Pat",
        "LNAME": "Lee",
        "PHONE": "+64 21 555 0101",
        "BIRTHDAY": "04/07",
    }
    assert member["tags"] == ["trade", "vip"]
    assert view["consent"] == {"marketing_opt_in": True, "state": "opted_in", "source": None}


async def test_customer_who_never_opted_in_is_never_created(crm: Crm) -> None:
    customer_id, email = person()
    await crm.customer(customer_id, email=email, first_name="Sam")
    view = await synced(crm, customer_id)
    assert view["mailchimp"]["state"] == "not_member"
    await crm.customer(customer_id, marketing_opt_in=False)
    await crm.customer(customer_id, last_name="Ng")
    await crm.output.settle(0.3)
    await synced(crm, customer_id)
    assert email not in await crm.audience()
    assert await requests_to(crm, MEMBER_PUT) == 0


async def test_opting_out_unsubscribes_and_opting_in_again_resubscribes(crm: Crm) -> None:
    customer_id, email = person()
    await crm.customer(customer_id, email=email, marketing_opt_in=True)
    await synced(crm, customer_id, status="subscribed")
    await crm.customer(customer_id, marketing_opt_in=False)
    await synced(crm, customer_id, status="unsubscribed")
    assert (await crm.audience())[email]["status"] == "unsubscribed"
    await crm.customer(customer_id, marketing_opt_in=True, opt_in_source="till")
    await synced(crm, customer_id, status="subscribed")
    assert (await crm.audience())[email]["status"] == "subscribed"


async def test_tags_follow_the_customer_and_marketers_tags_stay(crm: Crm) -> None:
    customer_id, email = person()
    await crm.customer(customer_id, email=email, tags=["a", "b"], marketing_opt_in=True)
    await synced(crm, customer_id, tags=["a", "b"])
    client = make_client(crm.mailchimp.api_url, crm.mailchimp.api_key)
    await asyncio.to_thread(
        client.lists.update_list_member_tags,
        crm.mailchimp.audience_id,
        subscriber_hash(email),
        {"tags": [{"name": "campaign-7", "status": "active"}]},
    )
    await crm.customer(customer_id, tags=["b", "c"])
    await synced(crm, customer_id, tags=["b", "c"])
    assert (await crm.audience())[email]["tags"] == ["b", "c", "campaign-7"]


async def test_an_address_change_moves_the_member(crm: Crm) -> None:
    customer_id, old = person()
    await crm.customer(customer_id, email=old, first_name="Kim", marketing_opt_in=True)
    await synced(crm, customer_id, email=old)
    new = f"new-{old}"
    await crm.customer(customer_id, email=new)
    await synced(crm, customer_id, email=new)
    audience = await crm.audience()
    assert old not in audience
    assert audience[new]["id"] == subscriber_hash(new)
    assert audience[new]["merge_fields"]["FNAME"] == "Kim"


async def test_rapid_changes_to_one_customer_are_coalesced(crm: Crm) -> None:
    customer_id, email = person()
    changes: list[tuple[str, dict[str, Any]]] = [
        (customer_id, {"event_id": unique("cu-"), "customer_id": customer_id, "first_name": n})
        for n in ("A", "B", "C", "D", "E", "F", "G", "H")
    ]
    changes[0][1].update(email=email, marketing_opt_in=True)
    await crm.send_many(CRM_CUSTOMERS, changes)
    await crm.view_when(customer_id, lambda v: v["first_name"] == "H")
    await synced(crm, customer_id, status="subscribed")
    assert (await crm.audience())[email]["merge_fields"]["FNAME"] == "H"
    assert await requests_to(crm, MEMBER_PUT) < len(changes)


async def test_unsubscribe_made_in_mailchimp_is_not_overridden_without_new_consent(
    crm: Crm,
) -> None:
    customer_id, email = person()
    await crm.customer(customer_id, email=email, marketing_opt_in=True)
    await synced(crm, customer_id, status="subscribed")
    audience_id = crm.mailchimp.audience_id
    # The recipient's own link; no webhook is registered here, so the CRM does not hear of it.
    await crm.admin("POST", f"/lists/{audience_id}/members/{subscriber_hash(email)}/unsubscribe")
    await crm.customer(customer_id, first_name="Changed")
    view = await synced(crm, customer_id, status="unsubscribed")
    assert (await crm.audience())[email]["status"] == "unsubscribed"
    # The sync saw Mailchimp's unsubscribe and withdrew consent, as the webhook would have.
    assert view["consent"]["state"] == "opted_out"
    assert view["consent"]["source"] == "mailchimp:unsubscribe"
    # New consent is sent explicitly: Mailchimp refuses it for a recipient's own unsubscribe,
    # a permanent error that is recorded and shown.
    await crm.customer(customer_id, marketing_opt_in=True)
    failed = await crm.view_when(customer_id, lambda v: v["mailchimp"]["state"] == "failed")
    assert "Member In Compliance State" in failed["mailchimp"]["error"]


async def test_permanent_error_is_recorded_and_not_retried(crm: Crm) -> None:
    customer_id, email = person()
    await crm.customer(customer_id, email=email, mobile="call me maybe", marketing_opt_in=True)
    view = await crm.view_when(customer_id, lambda v: v["mailchimp"]["state"] == "failed")
    assert "Your merge fields were invalid" in view["mailchimp"]["error"]
    assert "PHONE" in view["mailchimp"]["error"]
    tries = await requests_to(crm, MEMBER_PUT)
    await asyncio.sleep(0.5)  # several sync intervals
    assert await requests_to(crm, MEMBER_PUT) == tries == 1
    assert email not in await crm.audience()
    await crm.customer(customer_id, mobile="021 555 0199")  # a fix is a new change: synced
    await synced(crm, customer_id, status="subscribed")


async def test_outage_is_retried_with_backoff_until_mailchimp_answers(crm: Crm) -> None:
    customer_id, email = person()
    # More failures than one pass tries: the customer waits in the queue, then goes through.
    # The outage lasts until the test has seen the customer waiting (a fixed number of
    # failures could all be spent between two looks on a slow machine).
    await crm.admin(
        "POST", "/faults", json={"status": 503, "count": 10_000, "path_contains": "/members/"}
    )
    await crm.customer(customer_id, email=email, marketing_opt_in=True)
    retrying = await crm.view_when(customer_id, lambda v: v["mailchimp"]["state"] == "retrying")
    assert "503" in retrying["mailchimp"]["error"]
    await crm.admin("DELETE", "/faults")
    view = await synced(crm, customer_id, status="subscribed")
    assert view["mailchimp"]["error"] is None
    assert (await crm.audience())[email]["status"] == "subscribed"


async def test_retry_after_is_honoured(crm: Crm) -> None:
    customer_id, email = person()
    await crm.admin(
        "POST",
        "/faults",
        json={"status": 429, "count": 1, "retry_after": 1, "path_contains": "/members/"},
    )
    started = time.monotonic()
    await crm.customer(customer_id, email=email, marketing_opt_in=True)
    await synced(crm, customer_id, status="subscribed")
    assert time.monotonic() - started >= 1.0
    assert await requests_to(crm, MEMBER_PUT) == 2


async def test_look_up_needs_a_token_and_answers_404_for_strangers(crm: Crm) -> None:
    customer_id, email = person()
    await crm.customer(customer_id, email=email)
    await crm.view_when(customer_id, lambda v: v["email"] == email)
    assert (await crm.look_up(customer_id, headers={})).status_code == 401
    wrong = await crm.look_up(customer_id, headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "unauthorized"})
    assert (await crm.look_up(unique("C-"))).status_code == 404


class SlowToWrite(HeldAfterFirstRead, CustomerViews):
    """The real customer views, whose first build, once read, waits before it is written."""

    def __init__(self, base_tier: str) -> None:
        super().__init__(base_tier)
        self.hold_first_read()


async def test_a_view_read_before_the_workers_commit_does_not_replace_its_refresh(
    crm: Crm,
) -> None:
    """Another process (a worker starting, `tabs crm resync`) reads a customer's view while
    opted in and is slow to write it; meanwhile the worker applies an opt-out and refreshes
    the view. The stale view, written last, must not replace it: nothing in a customer's view
    orders it, so the refreshes' tickets do."""
    customer_id, email = person()
    await crm.customer(customer_id, email=email, marketing_opt_in=True)
    await crm.view_when(customer_id, lambda v: v["consent"]["state"] == "opted_in")
    slow = SlowToWrite(crm.settings.loyalty_rules.base_tier)
    other = ReadModel(
        crm.worker.engine,
        slow,
        crm.settings.redis_url,
        key_prefix=f"{crm.settings.topic_prefix}tabs:",
    )
    try:
        rebuilding = asyncio.create_task(other.refresh([customer_id]))
        await slow.read.wait()
        await crm.customer(customer_id, marketing_opt_in=False)
        await crm.view_when(customer_id, lambda v: v["consent"]["state"] == "opted_out")
        slow.release.set()
        await rebuilding
        view = (await crm.look_up(customer_id)).json()
        assert view["consent"]["state"] == "opted_out"
    finally:
        await other.close()
