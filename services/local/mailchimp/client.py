"""Pointing the official `mailchimp_marketing` client at any base URL, this stand-in included.

The client builds its URL as `api_client.host + path` and then replaces every "server" in it
with the configured data-center prefix (`https://server.api.mailchimp.com/3.0` becomes
`https://us1.api.mailchimp.com/3.0`). Setting `host` to the full base URL and `server` to ""
turns that replacement off, so a host or path that happens to contain "server" survives.
"""

from __future__ import annotations

from typing import Any

import mailchimp_marketing

from .state import subscriber_hash

__all__ = ["mailchimp_api_url", "make_client", "subscriber_hash"]


def mailchimp_api_url(api_key: str) -> str:
    """The real API's base URL for a key like `<hex>-us1`."""
    return f"https://{api_key.rsplit('-', 1)[-1]}.api.mailchimp.com/3.0"


def make_client(api_url: str, api_key: str, *, timeout: float = 30.0) -> Any:
    """A `mailchimp_marketing.Client` that sends every call to `api_url` (ending in /3.0).

    Use `mailchimp_api_url(key)` for the real service and `MailchimpServer.api_url` for the
    stand-in. The client is synchronous (requests): call it from a thread in async code.
    Note that it raises `ApiClientError` whose `text` is the raw problem+json string (it only
    decodes bodies typed exactly application/json) and that calls answered 204 return the
    `requests.Response` itself.
    """
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": api_key, "server": "", "timeout": timeout})
    client.api_client.host = api_url.rstrip("/")
    return client
