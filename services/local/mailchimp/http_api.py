"""The /3.0 HTTP front door: request counting, forced faults, Basic auth, the simultaneous
connection limit and artificial latency, in that order, then the shared router.

Counting comes first so a test sees every call the client made, including refused ones.
Forced faults come before auth because they stand for failures in front of the API (a load
balancer's 503). The connection slot is held through the latency, which is what lets a test
provoke Mailchimp's 429 with a handful of threads.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import BasicAuth, web
from aiohttp.typedefs import Handler

from . import errors
from .dispatch import ApiResponse, Router
from .errors import PROBLEM_CONTENT_TYPE, MailchimpError
from .state import ServerState

API_PREFIX = "/3.0"
STATE = web.AppKey("state", ServerState)


def to_web(response: ApiResponse) -> web.Response:
    if response.body is None:
        return web.Response(status=response.status, headers=response.headers)
    content_type = PROBLEM_CONTENT_TYPE if response.problem else "application/json"
    return web.Response(
        status=response.status,
        text=json.dumps(response.body),
        content_type=content_type,
        charset="utf-8",
        headers=response.headers,
    )


def check_auth(state: ServerState, header: str | None) -> None:
    """HTTP Basic with any username and the API key as password, as Mailchimp accepts."""
    if not header:
        raise errors.api_key_missing()
    try:
        password = BasicAuth.decode(header).password
    except ValueError:
        raise errors.api_key_invalid() from None
    if password != state.settings.api_key:
        raise errors.api_key_invalid()


def make_handler(state: ServerState, router: Router) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix(API_PREFIX) or "/"
        state.request_counts[router.route_key(request.method, path)] += 1
        try:
            fault = state.take_fault(request.method, request.path)
            if fault is not None:
                raise errors.forced(fault.status, fault.retry_after)
            check_auth(state, request.headers.get("Authorization"))
            settings = state.settings
            if state.in_flight >= settings.max_connections:
                raise errors.too_many_requests(settings.max_connections, settings.retry_after)
        except MailchimpError as error:
            return to_web(ApiResponse.from_error(error))
        state.in_flight += 1
        try:
            raw_body = await request.text()
            if state.settings.latency > 0:
                await asyncio.sleep(state.settings.latency)
            base_url = str(request.url.origin())
            response = await router.dispatch(
                state, request.method, path, request.query, raw_body, base_url
            )
        finally:
            state.in_flight -= 1
        return to_web(response)

    return handle


async def batch_results(request: web.Request) -> web.StreamResponse:
    state: ServerState = request.app[STATE]
    batch = state.batches.get(request.match_info["batch_id"])
    if batch is None or batch.archive is None:
        raise web.HTTPNotFound()
    return web.Response(body=batch.archive, content_type="application/x-gzip")
