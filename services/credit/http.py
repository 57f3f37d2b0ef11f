"""Read-only look-ups of the credit service."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from services.common.service import ServiceContext
from services.credit.views import with_aging


def add_routes(app: web.Application, context: ServiceContext) -> None:
    read_model = context.read_model
    assert read_model is not None, "the credit service keeps a read model"
    business_tz = ZoneInfo(context.settings.business_timezone)

    async def account(request: web.Request) -> web.Response:
        number = request.match_info["account_number"]
        view = await read_model.get(number)
        if view is None:
            return web.json_response({"error": "account_not_found"}, status=404)
        today = context.clock.now().astimezone(business_tz).date()
        return web.json_response(with_aging(view, today))

    app.router.add_get("/v1/accounts/{account_number}", account)
