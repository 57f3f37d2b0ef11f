"""List webhooks: register (after a validating GET, as Mailchimp does), list, get, delete."""

from __future__ import annotations

from typing import Any

from .dispatch import ApiRequest, ApiResponse, Router, json_object
from .errors import field_error, not_found, validation_failed
from .routes_lists import audience_of
from .state import ServerState, Webhook, short_id
from .views import webhook_json
from .webhooks import url_answers_200

WEBHOOKS = "/lists/{list_id}/webhooks"
WEBHOOK = WEBHOOKS + "/{webhook_id}"
# Flags left unset: every event, from subscribers and admins. API-made changes stay quiet
# unless asked for, so a sync does not hear its own writes echoed back.
EVENTS = dict.fromkeys(
    ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign"), True
)
SOURCES = {"user": True, "admin": True, "api": False}


def _flags(value: Any, defaults: dict[str, bool]) -> dict[str, bool]:
    given = value if isinstance(value, dict) else {}
    return {name: bool(given.get(name, default)) for name, default in defaults.items()}


async def create_webhook(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    body = json_object(request)
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise validation_failed([field_error("url", "Please enter a valid URL.")])
    if not await url_answers_200(url):
        message = "We couldn't verify the URL is working. Please double check and try again."
        raise validation_failed([field_error("url", message)])
    events = _flags(body.get("events"), EVENTS)
    hook = Webhook(short_id(), url, events, _flags(body.get("sources"), SOURCES))
    audience.webhooks[hook.id] = hook
    return ApiResponse(body=webhook_json(audience, hook))


async def list_webhooks(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    hooks = [webhook_json(audience, h) for h in audience.webhooks.values()]
    body = {"webhooks": hooks, "list_id": audience.id, "total_items": len(hooks), "_links": []}
    return ApiResponse(body=body)


async def get_webhook(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    hook = audience.webhooks.get(request.params["webhook_id"])
    if hook is None:
        raise not_found()
    return ApiResponse(body=webhook_json(audience, hook))


async def delete_webhook(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    if audience.webhooks.pop(request.params["webhook_id"], None) is None:
        raise not_found()
    return ApiResponse(204)


def register(router: Router) -> None:
    router.add("POST", WEBHOOKS, create_webhook)
    router.add("GET", WEBHOOKS, list_webhooks)
    router.add("GET", WEBHOOK, get_webhook)
    router.add("DELETE", WEBHOOK, delete_webhook)
