"""Batch operations through the official client, down to the results archive."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from services.local.mailchimp import ThreadedMailchimpServer, subscriber_hash
from services.local.mailchimp.batches import read_archive

Admin = Callable[..., Any]


def upsert_op(list_id: str, email: str, op_id: str, hash_of: str | None = None) -> dict[str, Any]:
    return {
        "method": "PUT",
        "path": f"/lists/{list_id}/members/{subscriber_hash(hash_of or email)}",
        "body": json.dumps({"email_address": email, "status_if_new": "subscribed"}),
        "operation_id": op_id,
    }


def wait_finished(client: Any, batch_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        batch: dict[str, Any] = client.batches.status(batch_id)
        if batch["status"] == "finished" or time.monotonic() > deadline:
            return batch
        time.sleep(0.05)


def test_batch_of_50_with_invalid_operations(
    server: ThreadedMailchimpServer, client: Any, admin: Admin
) -> None:
    list_id = server.audience_id
    operations = [upsert_op(list_id, f"b{i:02}@example.com", f"ok-{i}") for i in range(44)]
    operations += [upsert_op(list_id, f"broken-{i}", f"bad-email-{i}") for i in range(3)]
    operations += [
        upsert_op(list_id, f"m{i}@example.com", f"bad-hash-{i}", hash_of="other@example.com")
        for i in range(2)
    ]
    operations.append(
        {"method": "POST", "path": f"/lists/{list_id}/members/{'0' * 32}/tags", "body": "{}"}
    )  # unknown member: 404, and no operation_id
    assert len(operations) == 50

    started = client.batches.start({"operations": operations})
    assert started["status"] == "pending"
    assert started["total_operations"] == 50

    batch = wait_finished(client, started["id"])
    assert batch["status"] == "finished"
    assert (batch["finished_operations"], batch["errored_operations"]) == (50, 6)
    assert batch["completed_at"]

    archive = requests.get(batch["response_body_url"], timeout=10)
    assert archive.status_code == 200
    results = read_archive(archive.content)
    assert len(results) == 50
    by_id = {r["operation_id"]: r for r in results}
    assert by_id["ok-0"]["status_code"] == 200
    assert json.loads(by_id["ok-0"]["response"])["email_address"] == "b00@example.com"
    bad = json.loads(by_id["bad-email-1"]["response"])
    assert (by_id["bad-email-1"]["status_code"], bad["title"]) == (400, "Invalid Resource")
    assert bad["detail"] == "Please provide a valid email address."
    assert by_id["bad-hash-0"]["status_code"] == 400
    assert by_id[None]["status_code"] == 404

    audience = admin("GET", f"/lists/{list_id}/audience")
    assert audience["total_items"] == 44


def test_batch_applies_the_same_status_rules(
    server: ThreadedMailchimpServer, client: Any, admin: Admin
) -> None:
    list_id = server.audience_id
    member = client.lists.set_list_member(
        list_id,
        subscriber_hash("gone@example.com"),
        {"email_address": "gone@example.com", "status_if_new": "subscribed"},
    )
    admin("POST", f"/lists/{list_id}/members/{member['id']}/clean")
    body = {"email_address": "gone@example.com", "status": "subscribed"}
    op = {"method": "PATCH", "path": f"/lists/{list_id}/members/{member['id']}", "body": ""}
    op["body"] = json.dumps(body)
    batch = wait_finished(client, client.batches.start({"operations": [op]})["id"])
    assert batch["errored_operations"] == 1
    (result,) = read_archive(requests.get(batch["response_body_url"], timeout=10).content)
    assert json.loads(result["response"])["title"] == "Member In Compliance State"


def test_batch_body_must_be_a_json_string(server: ThreadedMailchimpServer, client: Any) -> None:
    op = {"method": "PUT", "path": f"/lists/{server.audience_id}/members/x", "body": {"a": 1}}
    with pytest.raises(ApiClientError) as raised:
        client.batches.start({"operations": [op]})
    assert raised.value.status_code == 400
    assert json.loads(raised.value.text)["errors"][0]["field"] == "operations.item:0.body"


def test_batches_list_and_delete(server: ThreadedMailchimpServer, client: Any) -> None:
    ops = [{"method": "GET", "path": "/ping"}]
    first = client.batches.start({"operations": ops})
    second = client.batches.start({"operations": ops})
    listed = client.batches.list()
    assert {b["id"] for b in listed["batches"]} == {first["id"], second["id"]}
    client.batches.delete_request(first["id"])
    with pytest.raises(ApiClientError) as raised:
        client.batches.status(first["id"])
    assert raised.value.status_code == 404
    assert client.batches.list()["total_items"] == 1
