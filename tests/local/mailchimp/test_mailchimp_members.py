"""Members through the official client: upsert, validation and the status rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from services.local.mailchimp import ThreadedMailchimpServer, subscriber_hash

Problem = Callable[[ApiClientError], dict[str, Any]]
Admin = Callable[..., Any]


def put(client: Any, list_id: str, email: str, **body: Any) -> dict[str, Any]:
    member: dict[str, Any] = client.lists.set_list_member(
        list_id, subscriber_hash(email), {"email_address": email, **body}
    )
    return member


def test_upsert_with_status_if_new_then_get(server: ThreadedMailchimpServer, client: Any) -> None:
    created = put(
        client,
        server.audience_id,
        "Ann.Lee@Example.com",
        status_if_new="subscribed",
        merge_fields={"FNAME": "Ann", "LNAME": "Lee", "PHONE": "+64 21 555 0100"},
        tags=["retail", "vip"],
    )
    assert created["id"] == subscriber_hash("ann.lee@example.com")
    assert created["status"] == "subscribed"

    got = client.lists.get_list_member(server.audience_id, created["id"])
    assert got["email_address"] == "Ann.Lee@Example.com"
    assert got["merge_fields"] == {
        "FNAME": "Ann",
        "LNAME": "Lee",
        "PHONE": "+64 21 555 0100",
        "BIRTHDAY": "",
    }
    assert [t["name"] for t in got["tags"]] == ["retail", "vip"]
    assert got["tags_count"] == 2
    assert got["list_id"] == server.audience_id
    assert len(got["unique_email_id"]) == 10
    assert got["last_changed"] and got["timestamp_opt"]

    # A second PUT updates merge fields and leaves the rest alone.
    again = put(client, server.audience_id, "ann.lee@example.com", merge_fields={"FNAME": "Annie"})
    assert again["merge_fields"]["FNAME"] == "Annie"
    assert again["merge_fields"]["LNAME"] == "Lee"
    assert again["status"] == "subscribed"


def test_put_new_member_needs_a_status(
    server: ThreadedMailchimpServer, client: Any, problem: Problem
) -> None:
    with pytest.raises(ApiClientError) as raised:
        put(client, server.audience_id, "no.status@example.com")
    assert raised.value.status_code == 400
    assert problem(raised.value)["errors"][0]["message"].endswith("status_if_new")


def test_hash_mismatch_is_400(
    server: ThreadedMailchimpServer, client: Any, problem: Problem
) -> None:
    with pytest.raises(ApiClientError) as raised:
        client.lists.set_list_member(
            server.audience_id,
            subscriber_hash("someone.else@example.com"),
            {"email_address": "ann@example.com", "status_if_new": "subscribed"},
        )
    assert raised.value.status_code == 400
    body = problem(raised.value)
    assert body["title"] == "Invalid Resource"
    assert body["errors"][0]["field"] == "email_address"


def test_invalid_email_is_400_with_errors(
    server: ThreadedMailchimpServer, client: Any, problem: Problem
) -> None:
    with pytest.raises(ApiClientError) as raised:
        put(client, server.audience_id, "not-an-address", status_if_new="subscribed")
    assert raised.value.status_code == 400
    body = problem(raised.value)
    assert body["type"] == "https://mailchimp.com/developer/marketing/docs/errors/"
    assert body["title"] == "Invalid Resource"
    assert body["status"] == 400
    assert body["detail"] == "Please provide a valid email address."
    assert body["errors"] == [
        {"field": "email_address", "message": "Please provide a valid email address."}
    ]
    assert len(body["instance"]) == 36  # a UUID per occurrence


def test_error_is_problem_json(server: ThreadedMailchimpServer) -> None:
    url = f"{server.api_url}/lists/{server.audience_id}/members/{'0' * 32}"
    response = requests.get(url, auth=("anyone", server.api_key), timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["title"] == "Resource Not Found"


def test_api_unsubscribed_member_is_not_resubscribed_by_status_if_new(
    server: ThreadedMailchimpServer, client: Any
) -> None:
    email = "quiet@example.com"
    put(client, server.audience_id, email, status_if_new="subscribed")
    put(client, server.audience_id, email, status="unsubscribed")

    after = put(client, server.audience_id, email, status_if_new="subscribed")
    assert after["status"] == "unsubscribed"

    # Unsubscribed through the API, so an explicit status brings the member back.
    after = put(client, server.audience_id, email, status_if_new="subscribed", status="subscribed")
    assert after["status"] == "subscribed"


def test_recipient_unsubscribe_needs_double_opt_in(
    server: ThreadedMailchimpServer, client: Any, admin: Admin, problem: Problem
) -> None:
    email = "left@example.com"
    member = put(client, server.audience_id, email, status_if_new="subscribed")
    admin("POST", f"/lists/{server.audience_id}/members/{member['id']}/unsubscribe")

    assert put(client, server.audience_id, email, status_if_new="subscribed")["status"] == (
        "unsubscribed"
    )
    with pytest.raises(ApiClientError) as raised:
        put(client, server.audience_id, email, status="subscribed")
    assert raised.value.status_code == 400
    assert problem(raised.value)["title"] == "Member In Compliance State"
    assert put(client, server.audience_id, email, status="pending")["status"] == "pending"


def test_cleaned_member_is_in_compliance_state(
    server: ThreadedMailchimpServer, client: Any, admin: Admin, problem: Problem
) -> None:
    email = "bounced@example.com"
    member = put(client, server.audience_id, email, status_if_new="subscribed")
    admin("POST", f"/lists/{server.audience_id}/members/{member['id']}/clean")

    assert put(client, server.audience_id, email, status_if_new="subscribed")["status"] == "cleaned"
    for attempt in ("subscribed", "pending"):
        with pytest.raises(ApiClientError) as raised:
            put(client, server.audience_id, email, status=attempt)
        body = problem(raised.value)
        assert (raised.value.status_code, body["title"]) == (400, "Member In Compliance State")
        assert body["detail"].startswith(f"{email} is in a compliance state")
    with pytest.raises(ApiClientError):
        client.lists.update_list_member(server.audience_id, member["id"], {"status": "subscribed"})


def test_tags_add_and_remove(server: ThreadedMailchimpServer, client: Any) -> None:
    member = put(client, server.audience_id, "tagged@example.com", status_if_new="subscribed")
    update = {"tags": [{"name": "vip", "status": "active"}, {"name": "gold", "status": "active"}]}
    answer = client.lists.update_list_member_tags(server.audience_id, member["id"], update)
    assert answer.status_code == 204  # the client hands back the raw response for a 204

    tags = client.lists.get_list_member_tags(server.audience_id, member["id"])
    assert sorted(t["name"] for t in tags["tags"]) == ["gold", "vip"]
    assert tags["total_items"] == 2

    remove = {"tags": [{"name": "vip", "status": "inactive"}]}
    client.lists.update_list_member_tags(server.audience_id, member["id"], remove)
    got = client.lists.get_list_member(server.audience_id, member["id"])
    assert [t["name"] for t in got["tags"]] == ["gold"]


def test_tag_status_must_be_active_or_inactive(
    server: ThreadedMailchimpServer, client: Any
) -> None:
    member = put(client, server.audience_id, "t2@example.com", status_if_new="subscribed")
    with pytest.raises(ApiClientError) as raised:
        bad = {"tags": [{"name": "vip", "status": "on"}]}
        client.lists.update_list_member_tags(server.audience_id, member["id"], bad)
    assert raised.value.status_code == 400


@pytest.mark.parametrize("birthday", ["13/01", "1990-02-14", "2/14", "02/30"])
def test_birthday_must_be_mm_dd(
    server: ThreadedMailchimpServer, client: Any, problem: Problem, birthday: str
) -> None:
    with pytest.raises(ApiClientError) as raised:
        put(
            client,
            server.audience_id,
            "born@example.com",
            status_if_new="subscribed",
            merge_fields={"BIRTHDAY": birthday},
        )
    body = problem(raised.value)
    assert (raised.value.status_code, body["detail"]) == (400, "Your merge fields were invalid.")
    assert body["errors"][0]["field"] == "BIRTHDAY"


def test_valid_birthday_is_stored(server: ThreadedMailchimpServer, client: Any) -> None:
    member = put(
        client,
        server.audience_id,
        "born@example.com",
        status_if_new="subscribed",
        merge_fields={"BIRTHDAY": "02/29"},
    )
    assert member["merge_fields"]["BIRTHDAY"] == "02/29"


def test_list_pagination_and_status_filter(server: ThreadedMailchimpServer, client: Any) -> None:
    for i in range(25):
        status = "unsubscribed" if i % 5 == 0 else "subscribed"
        put(client, server.audience_id, f"p{i:02}@example.com", status_if_new=status)

    first = client.lists.get_list_members_info(server.audience_id)
    assert (first["total_items"], len(first["members"])) == (25, 10)  # count defaults to 10
    last = client.lists.get_list_members_info(server.audience_id, count=10, offset=20)
    assert [m["email_address"] for m in last["members"]] == [
        f"p{i}@example.com" for i in range(20, 25)
    ]
    pages = [
        m["id"]
        for offset in range(0, 25, 7)
        for m in client.lists.get_list_members_info(server.audience_id, count=7, offset=offset)[
            "members"
        ]
    ]
    assert len(set(pages)) == 25
    gone = client.lists.get_list_members_info(server.audience_id, status="unsubscribed")
    assert gone["total_items"] == 5
    assert {m["status"] for m in gone["members"]} == {"unsubscribed"}


def test_add_member_exists_archive_and_forget(
    server: ThreadedMailchimpServer, client: Any, problem: Problem
) -> None:
    body = {"email_address": "post@example.com", "status": "subscribed"}
    member = client.lists.add_list_member(server.audience_id, body)
    with pytest.raises(ApiClientError) as raised:
        client.lists.add_list_member(server.audience_id, body)
    assert problem(raised.value)["title"] == "Member Exists"

    client.lists.delete_list_member(server.audience_id, member["id"])  # archive
    assert client.lists.get_list_member(server.audience_id, member["id"])["status"] == "archived"
    assert client.lists.get_list_members_info(server.audience_id)["total_items"] == 0
    assert client.lists.add_list_member(server.audience_id, body)["status"] == "subscribed"

    client.lists.delete_list_member_permanent(server.audience_id, member["id"])
    with pytest.raises(ApiClientError) as raised:
        client.lists.get_list_member(server.audience_id, member["id"])
    assert raised.value.status_code == 404
    with pytest.raises(ApiClientError) as raised:
        client.lists.add_list_member(server.audience_id, body)
    assert problem(raised.value)["title"] == "Forgotten Email Not Subscribed"


def test_unknown_list_is_404(
    server: ThreadedMailchimpServer, client: Any, problem: Problem
) -> None:
    with pytest.raises(ApiClientError) as raised:
        client.lists.get_list("0000000000")
    assert raised.value.status_code == 404
    assert problem(raised.value)["title"] == "Resource Not Found"
    assert client.lists.get_list(server.audience_id)["id"] == server.audience_id


def test_bad_api_key_is_401(server: ThreadedMailchimpServer, problem: Problem) -> None:
    from services.local.mailchimp import make_client

    wrong = make_client(server.api_url, "ffffffffffffffffffffffffffffffff-us1")
    with pytest.raises(ApiClientError) as raised:
        wrong.ping.get()
    assert raised.value.status_code == 401
    assert problem(raised.value)["title"] == "API Key Invalid"

    bare = requests.get(f"{server.api_url}/ping", timeout=10)
    assert (bare.status_code, bare.json()["title"]) == (401, "API Key Missing")


def test_state_can_be_read_on_the_server_loop(server: ThreadedMailchimpServer, client: Any) -> None:
    put(client, server.audience_id, "loop@example.com", status_if_new="subscribed")
    count = server.call(lambda state: len(state.lists[server.audience_id].members))
    assert count == 1
