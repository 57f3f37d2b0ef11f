"""The aiohttp application: the Mailchimp API under /3.0, batch archives, and /_admin."""

from __future__ import annotations

import asyncio

from aiohttp import web

from . import (
    routes_admin,
    routes_batches,
    routes_lists,
    routes_members,
    routes_tags,
    routes_webhooks,
)
from .dispatch import Router
from .http_api import API_PREFIX, STATE, batch_results, make_handler
from .state import ServerState


def build_router() -> Router:
    router = Router()
    for module in (routes_lists, routes_members, routes_tags, routes_webhooks, routes_batches):
        module.register(router)
    return router


async def _cancel_batches(app: web.Application) -> None:
    tasks = [b.task for b in app[STATE].batches.values() if b.task is not None]
    for task in tasks:
        task.cancel()
    # Wait for them, so the loop can close without "Task was destroyed but it is pending".
    await asyncio.gather(*tasks, return_exceptions=True)


def build_app(state: ServerState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    routes_admin.register(app)
    app.router.add_get("/_batch-results/{batch_id}.tar.gz", batch_results)
    # One catch-all: the shared Router, not aiohttp's, decides 404 versus 405 so that the
    # answers are Mailchimp's problem documents for direct calls and batches alike.
    app.router.add_route("*", API_PREFIX + "/{tail:.*}", make_handler(state, build_router()))
    app.on_shutdown.append(_cancel_batches)
    return app
