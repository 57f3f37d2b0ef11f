"""`tabs crm resync` and `tabs crm drift [--repair]`, run as an operator runs them: the real
command in its own process, against the worker's database and the Mailchimp stand-in."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from services.common.clock import SetClock, SystemClock
from services.common.database import create_engine
from services.crm.domain.audience import subscriber_hash
from services.crm.domain.drift import Drift
from services.crm.mailchimp.backfill import Backfill
from services.crm.mailchimp.setup import build_mailchimp
from services.crm.settings import CrmSettings
from services.local.mailchimp import MailchimpServer, make_client
from shared.topics import CRM_CUSTOMERS
from tests.conftest import create_postgres_database
from tests.crm.conftest import START
from tests.crm.harness import Crm, crm_harness, crm_settings, runtime_settings
from tests.support.naming import unique


@dataclass(frozen=True)
class Finished:
    code: int
    output: str


@pytest.fixture
async def offline(
    kafka_bootstrap: str, redis_url: str, postgres_server: str, mailchimp: MailchimpServer
) -> AsyncIterator[tuple[Crm, dict[str, str]]]:
    """A worker whose own sync is off (no Mailchimp key), and the environment of `tabs crm`."""
    database_url = await create_postgres_database(postgres_server)
    base = runtime_settings(kafka_bootstrap, redis_url)
    config = crm_settings(base, mailchimp, MAILCHIMP_API_KEY=None)
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TABS_TOPIC_PREFIX": base["TABS_TOPIC_PREFIX"],
        "MAILCHIMP_API_KEY": mailchimp.api_key,
        "MAILCHIMP_AUDIENCE_ID": mailchimp.audience_id,
        "MAILCHIMP_API_URL": mailchimp.api_url,
        "MAILCHIMP_BATCH_POLL_INTERVAL_S": "0.05",
        "COLUMNS": "200",
    }
    async with crm_harness(config, database_url, mailchimp, SetClock(START)) as harness:
        yield harness, env


async def tabs_crm(env: dict[str, str], *args: str) -> Finished:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "crm",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Finished(process.returncode, output.decode())


async def drift_now(env: dict[str, str]) -> list[Drift]:
    settings = CrmSettings.model_validate(env)
    engine = create_engine(settings.database_url)
    mailchimp = build_mailchimp(settings)
    try:
        drifts, _ = await Backfill(engine, mailchimp, SystemClock()).drift()
        return drifts
    finally:
        await mailchimp.close()
        await engine.dispose()


async def test_resync_backfills_and_drift_repairs(offline: tuple[Crm, dict[str, str]]) -> None:
    crm, env = offline
    run = unique("r")
    ids = [f"{run}-{n:02}" for n in range(60)]
    shy, broken = f"{run}-shy", f"{run}-broken"
    changes = [
        (
            customer_id,
            {
                "event_id": unique("cu-"),
                "customer_id": customer_id,
                "email": f"{customer_id}@example.com",
                "first_name": f"N{n}",
                "tags": ["loyal"],
                "marketing_opt_in": True,
            },
        )
        for n, customer_id in enumerate(ids)
    ]
    await crm.send_many(CRM_CUSTOMERS, changes)
    await crm.customer(shy, email=f"{shy}@example.com")
    await crm.customer(broken, email=f"{broken}@example.com", mobile="no", marketing_opt_in=True)
    await crm.view_when(broken, lambda v: v["email"] is not None)

    resync = await tabs_crm(env, "resync")
    assert resync.code == 1, resync.output  # one customer's phone number is refused
    assert "synced: 60" in resync.output and "failed: 1" in resync.output
    assert "Your merge fields were invalid" in resync.output
    audience = await crm.audience()
    assert {m["status"] for m in audience.values()} == {"subscribed"} and len(audience) == 60
    assert (await crm.admin("GET", "/requests"))["counts"]["POST /batches"] >= 1
    failed = await crm.view_when(broken, lambda v: v["mailchimp"]["state"] == "failed")
    assert "PHONE" in failed["mailchimp"]["error"]

    # Disagreements: edited in Mailchimp, unsubscribed there, opted out in the CRM (whose own
    # sync is off), a stranger, and the broken phone fixed in the CRM.
    client = make_client(crm.mailchimp.api_url, crm.mailchimp.api_key)
    audience_id = crm.mailchimp.audience_id
    edited, untagged, gone, opted_out = ids[0], ids[1], ids[2], ids[3]

    def member(customer_id: str) -> str:
        return subscriber_hash(f"{customer_id}@example.com")

    await asyncio.to_thread(
        client.lists.update_list_member,
        audience_id,
        member(edited),
        {"merge_fields": {"FNAME": "X"}},
    )
    await asyncio.to_thread(
        client.lists.update_list_member_tags,
        audience_id,
        member(untagged),
        {"tags": [{"name": "loyal", "status": "inactive"}]},
    )
    await crm.admin("POST", f"/lists/{audience_id}/members/{member(gone)}/unsubscribe")
    stranger = "stranger@example.com"
    await asyncio.to_thread(
        client.lists.set_list_member,
        audience_id,
        subscriber_hash(stranger),
        {"email_address": stranger, "status_if_new": "subscribed"},
    )
    await crm.customer(opted_out, marketing_opt_in=False)
    await crm.customer(broken, mobile="021 555 0100")
    await crm.view_when(broken, lambda v: v["email"] and v["consent"]["state"] == "opted_in")
    await crm.view_when(opted_out, lambda v: v["consent"]["state"] == "opted_out")

    found = {(d.kind, d.customer_id or d.email) for d in await drift_now(env)}
    assert found == {
        ("fields", edited),
        ("tags", untagged),
        ("withdrawn", gone),
        ("subscribed", opted_out),
        ("missing", broken),
        ("unknown", stranger),
    }

    repaired = await tabs_crm(env, "drift", "--repair")
    assert repaired.code == 0, repaired.output
    assert "6 disagreements" in repaired.output and "withdrawn: 1" in repaired.output
    for kind, who in sorted(found):
        assert any(kind in line and who in line for line in repaired.output.splitlines())
    # What is left is the stranger: reported, never removed (not the CRM's member).
    left = await drift_now(env)
    assert [(d.kind, d.email) for d in left] == [("unknown", stranger)]

    audience = await crm.audience()
    assert audience[f"{edited}@example.com"]["merge_fields"]["FNAME"] == "N0"
    assert audience[f"{untagged}@example.com"]["tags"] == ["loyal"]
    assert audience[f"{gone}@example.com"]["status"] == "unsubscribed"
    assert audience[f"{opted_out}@example.com"]["status"] == "unsubscribed"
    assert audience[f"{broken}@example.com"]["status"] == "subscribed"
    assert audience[stranger]["status"] == "subscribed"
    assert f"{shy}@example.com" not in audience
    view = await crm.view_when(gone, lambda v: v["consent"]["state"] == "opted_out")
    assert view["consent"]["source"] == "mailchimp:unsubscribe"
