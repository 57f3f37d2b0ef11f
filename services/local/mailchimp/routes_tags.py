"""Member tags: POST {"tags": [{"name", "status": "active"|"inactive"}]} and GET.

Tag ids are per audience and stable, as in Mailchimp, where a tag is a static segment."""

from __future__ import annotations

from . import members
from .dispatch import ApiRequest, ApiResponse, Router
from .routes_lists import audience_of
from .state import ServerState, TagRef, now_iso
from .validation import check_tag_updates
from .views import tags_json

TAGS = "/lists/{list_id}/members/{subscriber_hash}/tags"


async def get_tags(state: ServerState, request: ApiRequest) -> ApiResponse:
    member = members.find(audience_of(state, request), request.params["subscriber_hash"])
    return ApiResponse(body=tags_json(member))


async def update_tags(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    member = members.find(audience, request.params["subscriber_hash"])
    updates = check_tag_updates(request.body)  # validate all before changing any
    for name, active in updates:
        if active:
            member.tags.setdefault(name, TagRef(audience.tag_id(name), name, now_iso()))
        else:
            member.tags.pop(name, None)
    member.last_changed = now_iso()
    return ApiResponse(204)


def register(router: Router) -> None:
    router.add("GET", TAGS, get_tags)
    router.add("POST", TAGS, update_tags)
