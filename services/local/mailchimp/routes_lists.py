"""GET /ping, GET /lists and GET /lists/{list_id}. Audiences are made by the server's
configuration, not through the API, because the CRM only ever uses one existing audience."""

from __future__ import annotations

from .dispatch import ApiRequest, ApiResponse, Router, paging
from .errors import not_found
from .state import AudienceList, ServerState
from .views import list_json


def audience_of(state: ServerState, request: ApiRequest) -> AudienceList:
    audience = state.lists.get(request.params["list_id"])
    if audience is None:
        raise not_found()
    return audience


async def ping(state: ServerState, request: ApiRequest) -> ApiResponse:
    return ApiResponse(body={"health_status": "Everything's Chimpy!"})


async def get_lists(state: ServerState, request: ApiRequest) -> ApiResponse:
    count, offset = paging(request.query)
    lists = [list_json(a) for a in state.lists.values()]
    body = {"lists": lists[offset : offset + count], "total_items": len(lists), "_links": []}
    return ApiResponse(body=body)


async def get_list(state: ServerState, request: ApiRequest) -> ApiResponse:
    return ApiResponse(body=list_json(audience_of(state, request)))


def register(router: Router) -> None:
    router.add("GET", "/ping", ping)
    router.add("GET", "/lists", get_lists)
    router.add("GET", "/lists/{list_id}", get_list)
