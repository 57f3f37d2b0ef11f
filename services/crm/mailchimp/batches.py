"""Mailchimp batch operations: many member calls in one request, results read from an archive.

Mailchimp runs a batch's operations in no promised order, so a batch never holds two
operations that depend on each other; the caller keeps such pairs to direct calls.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.crm.mailchimp.api import ApiFailure, MailchimpApi

Progress = Callable[[int, int], None]

# Mailchimp's guidance: keep a batch to a few hundred operations.
OPERATIONS_PER_BATCH_MAX = 500


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    body: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        op: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "operation_id": self.operation_id,
        }
        if self.body is not None:
            op["body"] = json.dumps(self.body)  # a JSON string, not an object (Mailchimp's rule)
        return op


@dataclass(frozen=True)
class Result:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def failure(self) -> ApiFailure:
        body = self.body if isinstance(self.body, dict) else {}
        detail = str(body.get("detail") or "")
        problems = body.get("errors")
        if isinstance(problems, list) and problems:
            fields = "; ".join(
                f"{p.get('field') or 'member'}: {p.get('message')}"
                for p in problems
                if isinstance(p, dict)
            )
            detail = f"{detail} ({fields})" if detail else fields
        return ApiFailure(self.status, str(body.get("title") or "error"), detail)


async def run_batches(
    api: MailchimpApi,
    operations: Sequence[Operation],
    *,
    poll_interval_s: float,
    wait_max_s: float,
    progress: Progress | None = None,
) -> dict[str, Result]:
    """Runs the operations in batches of at most OPERATIONS_PER_BATCH_MAX, one after another;
    an operation missing from the answer (a batch that did not finish in time) is left out."""
    results: dict[str, Result] = {}
    done = 0
    for start in range(0, len(operations), OPERATIONS_PER_BATCH_MAX):
        chunk = operations[start : start + OPERATIONS_PER_BATCH_MAX]

        def report(finished: int, _total: int, before: int = done) -> None:
            if progress is not None:
                progress(before + finished, len(operations))

        results |= await _run_batch(api, chunk, poll_interval_s, wait_max_s, report)
        done += len(chunk)
    return results


async def _run_batch(
    api: MailchimpApi,
    operations: Sequence[Operation],
    poll_interval_s: float,
    wait_max_s: float,
    progress: Progress,
) -> dict[str, Result]:
    body = {"operations": [op.wire() for op in operations]}
    batch = await api.call(lambda client: client.batches.start(body))
    batch_id = str(batch["id"])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_max_s
    while batch.get("status") != "finished":
        progress(int(batch.get("finished_operations") or 0), len(operations))
        if loop.time() > deadline:
            raise ApiFailure(None, "batch unfinished", f"batch {batch_id} after {wait_max_s}s")
        await asyncio.sleep(poll_interval_s)
        batch = await api.call(lambda client: client.batches.status(batch_id))
    progress(len(operations), len(operations))
    archive = await asyncio.to_thread(api.download, str(batch["response_body_url"]))
    return read_results(archive)


def read_results(archive: bytes) -> dict[str, Result]:
    """Every file of the archive (Mailchimp splits big batches over several)."""
    results: dict[str, Result] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info) if info.isfile() else None
            if handle is None or not info.name.endswith(".json"):
                continue
            for entry in json.load(handle):
                operation_id = entry.get("operation_id")
                if operation_id is None:
                    continue
                text = entry.get("response") or ""
                try:
                    parsed = json.loads(text) if text else None
                except ValueError:
                    parsed = text
                results[str(operation_id)] = Result(int(entry["status_code"]), parsed)
    return results
