"""Mailchimp's connection limit, forced faults and call counting."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from services.local.mailchimp import ThreadedMailchimpServer

Admin = Callable[..., Any]


def run_concurrently(calls: int, fn: Callable[[], Any]) -> list[Any]:
    """Run `fn` on `calls` threads released together; each result or exception."""
    barrier = threading.Barrier(calls)
    results: list[Any] = [None] * calls

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn()
        except ApiClientError as error:
            results[i] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_eleventh_simultaneous_request_gets_429(
    server: ThreadedMailchimpServer, admin: Admin
) -> None:
    admin("POST", "/latency", json={"seconds": 1.0})
    clients = [server.client() for _ in range(11)]
    index = iter(range(11))
    lock = threading.Lock()

    def ping() -> Any:
        with lock:
            client = clients[next(index)]
        return client.ping.get()

    results = run_concurrently(11, ping)
    refused = [r for r in results if isinstance(r, ApiClientError)]
    assert len(refused) == 1
    assert sum(1 for r in results if isinstance(r, dict)) == 10
    error = refused[0]
    assert error.status_code == 429
    body = json.loads(error.text)
    assert body["title"] == "Too Many Requests"
    assert body["detail"] == "You have exceeded the limit of 10 simultaneous connections."


def test_limit_and_retry_after_are_configurable(
    server: ThreadedMailchimpServer, admin: Admin
) -> None:
    admin("POST", "/config", json={"latency": 0.5, "max_connections": 1, "retry_after": 3})

    def ping() -> requests.Response:
        return requests.get(f"{server.api_url}/ping", auth=("u", server.api_key), timeout=10)

    responses = run_concurrently(2, ping)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["Retry-After"] == "3"
    assert "limit of 1 simultaneous" in refused.json()["detail"]


def test_forced_503_then_success(
    server: ThreadedMailchimpServer, client: Any, admin: Admin
) -> None:
    admin("POST", "/faults", json={"status": 503, "count": 1, "path_contains": "/ping"})
    with pytest.raises(ApiClientError) as raised:
        client.ping.get()
    assert raised.value.status_code == 503
    assert json.loads(raised.value.text)["title"] == "Service Unavailable"
    assert client.ping.get()["health_status"] == "Everything's Chimpy!"
    assert admin("GET", "/requests")["counts"] == {"GET /ping": 2}


def test_forced_429_carries_retry_after(server: ThreadedMailchimpServer, admin: Admin) -> None:
    fault = {"status": 429, "count": 2, "path_contains": "/members", "retry_after": 7}
    admin("POST", "/faults", json=fault)
    url = f"{server.api_url}/lists/{server.audience_id}/members"
    answers = [requests.get(url, auth=("u", server.api_key), timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert admin("GET", "/faults")["faults"] == []


def test_request_counts_by_endpoint(
    server: ThreadedMailchimpServer, client: Any, admin: Admin
) -> None:
    for _ in range(3):
        client.lists.get_list(server.audience_id)
    with pytest.raises(ApiClientError):
        client.lists.get_list_member(server.audience_id, "0" * 32)
    counts = admin("GET", "/requests")
    assert counts["counts"] == {
        "GET /lists/{list_id}": 3,
        "GET /lists/{list_id}/members/{subscriber_hash}": 1,
    }
    assert counts["total"] == 4
    admin("DELETE", "/requests")
    assert admin("GET", "/requests")["total"] == 0
