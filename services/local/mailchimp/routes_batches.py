"""POST/GET /batches, GET/DELETE /batches/{batch_id}.

The archive itself is served outside /3.0 (see app.py), without auth, as Mailchimp serves it
from a pre-signed storage URL."""

from __future__ import annotations

from . import batches
from .dispatch import ApiRequest, ApiResponse, Router, paging
from .errors import not_found
from .state import Batch, ServerState
from .views import batch_json


def register(router: Router) -> None:
    def batch_of(state: ServerState, request: ApiRequest) -> Batch:
        batch = state.batches.get(request.params["batch_id"])
        if batch is None:
            raise not_found()
        return batch

    async def start_batch(state: ServerState, request: ApiRequest) -> ApiResponse:
        operations = batches.check_operations(request.body)
        batch = batches.start(state, router, operations, request.base_url)
        return ApiResponse(body=batch_json(batch))

    async def list_batches(state: ServerState, request: ApiRequest) -> ApiResponse:
        count, offset = paging(request.query)
        found = [batch_json(b) for b in state.batches.values()]
        body = {"batches": found[offset : offset + count], "total_items": len(found)}
        return ApiResponse(body={**body, "_links": []})

    async def get_batch(state: ServerState, request: ApiRequest) -> ApiResponse:
        return ApiResponse(body=batch_json(batch_of(state, request)))

    async def delete_batch(state: ServerState, request: ApiRequest) -> ApiResponse:
        batch = batch_of(state, request)
        if batch.task is not None:
            batch.task.cancel()  # stops it, as Mailchimp's DELETE does; results are dropped
        del state.batches[batch.id]
        return ApiResponse(204)

    router.add("POST", "/batches", start_batch)
    router.add("GET", "/batches", list_batches)
    router.add("GET", "/batches/{batch_id}", get_batch)
    router.add("DELETE", "/batches/{batch_id}", delete_batch)
