"""Batch operations: run each operation through the same router as a direct call, then
publish the results as Mailchimp does, a gzipped tar of JSON files each holding an array of
`{"status_code", "operation_id", "response"}` where `response` is the body as a JSON string.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .dispatch import Router
from .errors import field_error, validation_failed
from .state import Batch, ServerState, now_iso, short_id

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Results per JSON file in the archive; Mailchimp also splits big batches over several files,
# and a reader that only opens the first file should fail here too.
RESULTS_PER_FILE = 500


def check_operations(body: Any) -> list[dict[str, Any]]:
    operations = body.get("operations") if isinstance(body, dict) else None
    if not isinstance(operations, list):
        message = "Required fields were not provided: operations"
        raise validation_failed([field_error("", message)])
    errors: list[dict[str, str]] = []
    for i, op in enumerate(operations):
        where = f"operations.item:{i}"
        if not isinstance(op, dict):
            errors.append(field_error(where, "Schema describes object, array found instead"))
            continue
        if op.get("method") not in METHODS:
            errors.append(field_error(f"{where}.method", f"Value must be one of: {METHODS}"))
        if not isinstance(op.get("path"), str):
            errors.append(field_error(f"{where}.path", "Schema describes string"))
        if "body" in op and not isinstance(op["body"], str):
            found = type(op["body"]).__name__
            errors.append(field_error(f"{where}.body", f"Schema describes string, {found} found"))
        if "params" in op and not isinstance(op["params"], dict):
            errors.append(field_error(f"{where}.params", "Schema describes object"))
    if errors:
        raise validation_failed(errors)
    return operations


def start(state: ServerState, router: Router, operations: list[dict[str, Any]], base: str) -> Batch:
    batch = Batch(id=short_id(), operations=operations)
    state.batches[batch.id] = batch
    batch.task = asyncio.get_running_loop().create_task(_run(state, router, batch, base))
    return batch


async def _run(state: ServerState, router: Router, batch: Batch, base_url: str) -> None:
    # Let the POST /batches answer go out while the batch is still `pending`.
    await asyncio.sleep(0)
    batch.status = "started"
    results: list[dict[str, Any]] = []
    for op in batch.operations:
        await asyncio.sleep(state.settings.batch_op_delay)
        # A path may carry its own query string; `params` adds to it.
        path = urlsplit(op["path"])
        query = dict(parse_qsl(path.query))
        query.update({str(k): _query_value(v) for k, v in (op.get("params") or {}).items()})
        response = await router.dispatch(
            state, op["method"], path.path, query, op.get("body") or "", base_url
        )
        results.append(
            {
                "status_code": response.status,
                "operation_id": op.get("operation_id"),
                # A body-less answer (204) is an empty string, not "null" or "{}".
                "response": "" if response.body is None else json.dumps(response.body),
            }
        )
        batch.finished_operations += 1
        batch.errored_operations += response.status >= 400
    batch.status = "finalizing"
    batch.archive = build_archive(batch.id, results)
    batch.response_body_url = f"{base_url}/_batch-results/{batch.id}.tar.gz"
    batch.completed_at = now_iso()
    batch.status = "finished"
    batch.task = None


def _query_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_archive(batch_id: str, results: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for n, start_at in enumerate(range(0, max(len(results), 1), RESULTS_PER_FILE)):
            data = json.dumps(results[start_at : start_at + RESULTS_PER_FILE]).encode()
            info = tarfile.TarInfo(f"{batch_id}-{n}.json")
            info.size = len(data)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def read_archive(data: bytes) -> list[dict[str, Any]]:
    """All results in an archive, in file order: what a client of Mailchimp would do."""
    results: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for info in sorted(archive.getmembers(), key=lambda i: i.name):
            handle = archive.extractfile(info) if info.isfile() else None
            if handle is not None and info.name.endswith(".json"):
                results.extend(json.load(handle))
    return results
