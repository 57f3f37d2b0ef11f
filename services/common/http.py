"""The HTTP side of a worker: health, metrics, and bearer-token look-ups."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.metrics import Metrics

Readiness = Callable[[], Awaitable[bool]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_http_app(metrics: Metrics, ready: Readiness, tokens: frozenset[str]) -> web.Application:
    app = web.Application(middlewares=[_bearer_tokens(tokens)])

    async def live(_: web.Request) -> web.Response:
        return web.json_response({"status": "live"})

    async def readiness(_: web.Request) -> web.Response:
        if await ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "starting"}, status=503)

    async def metrics_text(_: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", readiness)
    app.router.add_get("/metrics", metrics_text)
    return app


def _bearer_tokens(tokens: frozenset[str]) -> Middleware:
    """Look-ups under /v1/ need a token from API_TOKENS; health and metrics stay open."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/") and not _authorised(request, tokens):
            # The same answer for a missing, malformed or wrong token: it reveals nothing.
            return web.json_response(
                {"error": "unauthorized"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="tabs"'},
            )
        return await handler(request)

    return middleware


def _authorised(request: web.Request, tokens: frozenset[str]) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    # Compare against every token without stopping early, so timing reveals nothing.
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented.encode(), token.encode())
    return matched


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (port 0 asks the OS for a free one)."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the HTTP server is not listening")
