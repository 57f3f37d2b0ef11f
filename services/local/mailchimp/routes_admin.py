"""/_admin: test controls that Mailchimp does not have. No auth, never proxied to clients.

- POST /_admin/reset                       fresh state (settings back to the configured ones)
- GET|POST /_admin/config                  latency, max_connections, retry_after, batch_op_delay
- POST /_admin/latency {"seconds"}         shorthand for the latency setting
- GET|POST|DELETE /_admin/faults           force the next N calls to fail
- GET|DELETE /_admin/requests              call counts by "METHOD /template"
- GET /_admin/lists/{list_id}/audience     every member with status, merge fields and tags
- POST /_admin/lists/{list_id}/members/{hash}/unsubscribe|clean
                                           what a recipient or a bounce does in Mailchimp,
                                           then the webhook deliveries
- GET /_admin/webhook-deliveries           every webhook POST made so far
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import members, webhooks
from .dispatch import ApiResponse
from .errors import MailchimpError, not_found
from .http_api import STATE, to_web
from .state import AudienceList, FaultRule, Member, ServerState

CONFIG_KEYS = {
    "latency": float,
    "max_connections": int,
    "retry_after": float,
    "batch_op_delay": float,
}


def _state(request: web.Request) -> ServerState:
    return request.app[STATE]


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


def _config(state: ServerState) -> dict[str, Any]:
    return {key: getattr(state.settings, key) for key in CONFIG_KEYS}


async def reset(request: web.Request) -> web.Response:
    _state(request).reset()
    return web.json_response({"reset": True})


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(_config(_state(request)))


async def set_config(request: web.Request) -> web.Response:
    state = _state(request)
    for key, value in (await _json(request)).items():
        if key not in CONFIG_KEYS:
            raise web.HTTPBadRequest(text=f"unknown setting {key!r}")
        setattr(state.settings, key, None if value is None else CONFIG_KEYS[key](value))
    return web.json_response(_config(state))


async def set_latency(request: web.Request) -> web.Response:
    state = _state(request)
    state.settings.latency = float((await _json(request)).get("seconds", 0))
    return web.json_response(_config(state))


async def add_fault(request: web.Request) -> web.Response:
    body = await _json(request)
    rule = FaultRule(
        status=int(body["status"]),
        remaining=int(body.get("count", 1)),
        path_contains=str(body.get("path_contains", "")),
        method=body.get("method"),
        retry_after=None if body.get("retry_after") is None else float(body["retry_after"]),
    )
    _state(request).faults.append(rule)
    return web.json_response({"faults": [vars(f) for f in _state(request).faults]})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": [vars(f) for f in _state(request).faults]})


async def clear_faults(request: web.Request) -> web.Response:
    _state(request).faults.clear()
    return web.json_response({"faults": []})


async def get_requests(request: web.Request) -> web.Response:
    counts = _state(request).request_counts
    return web.json_response({"counts": dict(counts), "total": counts.total()})


async def clear_requests(request: web.Request) -> web.Response:
    _state(request).request_counts.clear()
    return web.json_response({"counts": {}, "total": 0})


def _audience(request: web.Request) -> AudienceList:
    audience = _state(request).lists.get(request.match_info["list_id"])
    if audience is None:
        raise MailchimpError(404, "Resource Not Found", "No such audience.")
    return audience


def _member_dump(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "email_address": member.email_address,
        "status": member.status,
        "merge_fields": dict(member.merge_fields),
        "tags": sorted(member.tags),
        "unsubscribed_by": member.unsubscribed_by,
        "last_changed": member.last_changed,
    }


async def audience_dump(request: web.Request) -> web.Response:
    try:
        audience = _audience(request)
    except MailchimpError as error:
        return to_web(ApiResponse.from_error(error))
    dump = [_member_dump(m) for m in audience.members.values()]
    return web.json_response({"list_id": audience.id, "members": dump, "total_items": len(dump)})


async def simulate(request: web.Request) -> web.Response:
    """A recipient unsubscribing, or an address bouncing, inside Mailchimp."""
    try:
        audience = _audience(request)
        member = members.find(audience, request.match_info["subscriber_hash"])
        if member.status == "archived":
            raise not_found()
    except MailchimpError as error:
        return to_web(ApiResponse.from_error(error))
    body = await _json(request)
    campaign_id = str(body.get("campaign_id", ""))
    state = _state(request)
    if request.match_info["action"] == "unsubscribe":
        reason = str(body.get("reason", "manual"))
        members.unsubscribe_by_recipient(member, "N/A (Unsubscribed by the recipient)")
        fields = webhooks.unsubscribe_fields(audience, member, reason, campaign_id)
        sent = await webhooks.deliver(state, audience, "unsubscribe", "user", fields)
    else:
        members.clean(member)
        reason = str(body.get("reason", "hard"))
        fields = webhooks.cleaned_fields(audience, member, reason, campaign_id)
        sent = await webhooks.deliver(state, audience, "cleaned", None, fields)
    return web.json_response({"member": _member_dump(member), "webhooks": sent})


async def deliveries(request: web.Request) -> web.Response:
    return web.json_response({"deliveries": _state(request).webhook_deliveries})


def register(app: web.Application) -> None:
    add = app.router.add_route
    add("POST", "/_admin/reset", reset)
    add("GET", "/_admin/config", get_config)
    add("POST", "/_admin/config", set_config)
    add("POST", "/_admin/latency", set_latency)
    add("GET", "/_admin/faults", get_faults)
    add("POST", "/_admin/faults", add_fault)
    add("DELETE", "/_admin/faults", clear_faults)
    add("GET", "/_admin/requests", get_requests)
    add("DELETE", "/_admin/requests", clear_requests)
    add("GET", "/_admin/lists/{list_id}/audience", audience_dump)
    member = "/_admin/lists/{list_id}/members/{subscriber_hash}"
    add("POST", member + "/{action:unsubscribe|clean}", simulate)
    add("GET", "/_admin/webhook-deliveries", deliveries)
