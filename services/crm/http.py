"""The CRM worker's HTTP routes: the customer look-up (bearer tokens, under /v1/) and the
Mailchimp webhook receiver (a secret in its path)."""

from __future__ import annotations

from aiohttp import web

from services.common.service import ServiceContext
from services.crm.settings import CrmSettings
from services.crm.webhooks import add_webhook_routes


def add_routes(app: web.Application, context: ServiceContext) -> None:
    read_model = context.read_model
    assert read_model is not None, "the CRM keeps a read model"

    async def customer(request: web.Request) -> web.Response:
        view = await read_model.get(request.match_info["customer_id"])
        if view is None:
            return web.json_response({"error": "customer_not_found"}, status=404)
        return web.json_response(view)

    app.router.add_get("/v1/customers/{customer_id}", customer)
    settings = context.settings
    secret = settings.mailchimp_webhook_secret if isinstance(settings, CrmSettings) else None
    add_webhook_routes(app, context, secret)
