"""Audience members: list, add, add-or-update, get, update, archive and delete permanently.

The status rules live in members.py; these handlers only find the audience, read the body
and shape the answer.
"""

from __future__ import annotations

from . import members
from .dispatch import ApiRequest, ApiResponse, Router, json_object, paging
from .routes_lists import audience_of
from .state import ServerState
from .validation import STATUSES
from .views import member_json

MEMBERS = "/lists/{list_id}/members"
MEMBER = "/lists/{list_id}/members/{subscriber_hash}"


async def list_members(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    count, offset = paging(request.query)
    wanted = request.query.get("status")
    found = [
        m
        for m in audience.members.values()
        # Archived contacts are not members of the audience unless asked for by status.
        if (m.status == wanted if wanted in (*STATUSES, "archived") else m.status != "archived")
    ]
    body = {
        "members": [member_json(audience, m) for m in found[offset : offset + count]],
        "list_id": audience.id,
        "total_items": len(found),
        "_links": [],
    }
    return ApiResponse(body=body)


async def add_member(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    member = members.add(audience, json_object(request))
    return ApiResponse(body=member_json(audience, member))


async def get_member(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    member = members.find(audience, request.params["subscriber_hash"])
    return ApiResponse(body=member_json(audience, member))


async def put_member(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    member_hash = request.params["subscriber_hash"]
    member = members.upsert(audience, member_hash, json_object(request))
    return ApiResponse(body=member_json(audience, member))


async def patch_member(state: ServerState, request: ApiRequest) -> ApiResponse:
    audience = audience_of(state, request)
    member_hash = request.params["subscriber_hash"]
    member = members.patch(audience, member_hash, json_object(request))
    return ApiResponse(body=member_json(audience, member))


async def archive_member(state: ServerState, request: ApiRequest) -> ApiResponse:
    members.archive(audience_of(state, request), request.params["subscriber_hash"])
    return ApiResponse(204)


async def delete_permanent(state: ServerState, request: ApiRequest) -> ApiResponse:
    members.delete_permanently(audience_of(state, request), request.params["subscriber_hash"])
    return ApiResponse(204)


def register(router: Router) -> None:
    router.add("GET", MEMBERS, list_members)
    router.add("POST", MEMBERS, add_member)
    router.add("GET", MEMBER, get_member)
    router.add("PUT", MEMBER, put_member)
    router.add("PATCH", MEMBER, patch_member)
    router.add("DELETE", MEMBER, archive_member)
    router.add("POST", MEMBER + "/actions/delete-permanent", delete_permanent)
