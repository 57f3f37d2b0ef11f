"""Fixtures: one threaded stand-in per module, reset before each test, and the official
client pointed at it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from services.local.mailchimp import ThreadedMailchimpServer

Admin = Callable[..., Any]


@pytest.fixture(scope="module")
def mailchimp_server() -> Iterator[ThreadedMailchimpServer]:
    with ThreadedMailchimpServer() as server:
        yield server


@pytest.fixture
def server(mailchimp_server: ThreadedMailchimpServer) -> ThreadedMailchimpServer:
    requests.post(f"{mailchimp_server.url}/_admin/reset", timeout=10).raise_for_status()
    return mailchimp_server


@pytest.fixture
def client(server: ThreadedMailchimpServer) -> Any:
    return server.client()


@pytest.fixture
def admin(server: ThreadedMailchimpServer) -> Admin:
    """`admin("POST", "/faults", json={...})` -> the decoded JSON answer of /_admin."""

    def call(method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{server.url}/_admin{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    return call


@pytest.fixture
def problem() -> Callable[[ApiClientError], dict[str, Any]]:
    """The problem document inside an ApiClientError (the client keeps it as raw text)."""

    def decode(error: ApiClientError) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(error.text)
        return body

    return decode
