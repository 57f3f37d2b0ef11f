"""The official `mailchimp_marketing` client, called from threads (it is synchronous), each call
inside a connection slot, with an explicit timeout and retries of what may pass.

Failure tree (`ApiFailure`):
- transient: no answer (network, timeout, no free slot), 429, 5xx, and 401/403/404 on the
  audience itself: configuration that an operator fixes, after which the queue drains;
- permanent: every other 4xx about the member (invalid address or merge fields, a member in a
  compliance state, a forgotten email): retrying cannot help, so it is recorded and shown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import mailchimp_marketing
import requests
from mailchimp_marketing.api_client import ApiClientError

from services.crm.mailchimp.backoff import Backoff, parse_retry_after
from services.crm.mailchimp.connection_limit import ConnectionLimit, LimitTimeout

log = logging.getLogger(__name__)

T = TypeVar("T")
Call = Callable[[Any], T]

# Statuses about the account or the request's delivery rather than the member.
_TRANSIENT_CLIENT_STATUSES = frozenset({401, 403, 408, 429})


class ApiFailure(Exception):
    def __init__(
        self,
        status: int | None,
        title: str,
        detail: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{status or 'no answer'} {title}: {detail}".strip().rstrip(":"))
        self.status = status
        self.title = title
        self.detail = detail
        self.retry_after_s = retry_after_s

    @property
    def transient(self) -> bool:
        status = self.status
        return status is None or status >= 500 or status in _TRANSIENT_CLIENT_STATUSES

    @property
    def reason(self) -> str:
        """For people: what Mailchimp said, as it said it."""
        return str(self)


def connect(api_url: str | None, api_key: str, timeout_s: float) -> Any:
    """The official client, aimed at `api_url` (a stand-in, a proxy) or the key's data center.

    The client builds `host + path` and then swaps "server" in the URL for the data center;
    with the full base URL as host and an empty server the swap does nothing.
    """
    base = api_url or f"https://{api_key.rsplit('-', 1)[-1]}.api.mailchimp.com/3.0"
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": api_key, "server": "", "timeout": timeout_s})
    client.api_client.host = base.rstrip("/")
    return client


class _RetryAfter(threading.local):
    value: str | None = None


@dataclass(frozen=True)
class CallPolicy:
    timeout_s: float
    tries_max: int
    backoff: Backoff


class MailchimpApi:
    def __init__(
        self, client: Any, audience_id: str, limit: ConnectionLimit, policy: CallPolicy
    ) -> None:
        self.client = client
        self.audience_id = audience_id
        self._limit = limit
        self._policy = policy
        # The client drops response headers when it raises; keep Retry-After per thread.
        self._retry_after = _RetryAfter()
        send = client.api_client.request

        def request(*args: Any, **kwargs: Any) -> Any:
            response = send(*args, **kwargs)
            self._retry_after.value = response.headers.get("Retry-After")
            return response

        client.api_client.request = request

    async def call(self, fn: Call[T]) -> T:
        """`fn(client)` with retries of transient failures; raises the last `ApiFailure`."""
        tries = self._policy.tries_max
        for attempt in range(1, tries + 1):
            try:
                return await self.call_once(fn)
            except ApiFailure as failure:
                if not failure.transient or attempt == tries:
                    raise
                delay = self._policy.backoff.delay_s(attempt, failure.retry_after_s)
                log.info("mailchimp %s; try %d of %d in %.2fs", failure, attempt + 1, tries, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last try raises")

    async def call_once(self, fn: Call[T]) -> T:
        try:
            async with self._limit.slot():
                # The client's own timeout bounds each socket wait; this bounds the whole call
                # (a slow trickle of bytes) a little later, so that the client's fires first.
                return await asyncio.wait_for(
                    asyncio.to_thread(self._in_thread, fn), self._policy.timeout_s * 2
                )
        except LimitTimeout as error:
            raise ApiFailure(None, "no connection slot", str(error)) from error
        except TimeoutError as error:
            raise ApiFailure(
                None, "timeout", f"no answer in {self._policy.timeout_s * 2}s"
            ) from error

    def _in_thread(self, fn: Call[T]) -> T:
        self._retry_after.value = None
        try:
            result = fn(self.client)
        except ApiClientError as error:
            raise _failure(error, parse_retry_after(self._retry_after.value)) from None
        if isinstance(result, requests.Response) and not result.ok:
            # The client returns, rather than raises, an error answer with an empty body.
            raise ApiFailure(
                result.status_code,
                result.reason or "error",
                retry_after_s=parse_retry_after(result.headers.get("Retry-After")),
            )
        return result

    def download(self, url: str) -> bytes:
        """A batch's results archive. It is served from storage, not the API: no slot taken."""
        response = requests.get(url, timeout=self._policy.timeout_s)
        if not response.ok:
            raise ApiFailure(response.status_code, "batch results unavailable", url)
        return response.content


def _failure(error: ApiClientError, retry_after_s: float | None) -> ApiFailure:
    status = error.status_code
    if status is None:  # no answer at all: the client wraps the requests exception
        return ApiFailure(None, "unreachable", str(error.text))
    title, detail = "error", ""
    text = error.text
    try:
        body = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        body = None
    if isinstance(body, dict):
        title = str(body.get("title") or title)
        detail = str(body.get("detail") or "")
        problems = body.get("errors")
        if isinstance(problems, list) and problems:
            fields = "; ".join(
                f"{p.get('field') or 'member'}: {p.get('message')}"
                for p in problems
                if isinstance(p, dict)
            )
            detail = f"{detail} ({fields})" if detail else fields
    elif isinstance(text, str):
        detail = text[:500]
    return ApiFailure(status, title, detail, retry_after_s)
