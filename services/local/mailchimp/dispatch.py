"""One route table for API calls made over HTTP and for operations inside a batch.

Handlers take an `ApiRequest` and return an `ApiResponse`; they never see aiohttp. The HTTP
adapter (app.py) and the batch runner (batches.py) both call `Router.dispatch`, so a batch
operation meets the same rules, the same validation and the same error documents as a direct
call, as it does at Mailchimp.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import (
    MailchimpError,
    field_error,
    forced,
    invalid_resource,
    json_parse_error,
    method_not_allowed,
    not_found,
    validation_failed,
)
from .state import ServerState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # relative to /3.0, e.g. /lists/a1b2c3d4e5/members
    params: Mapping[str, str]  # path parameters by template name
    query: Mapping[str, str]
    body: Any  # the parsed JSON body, or None
    base_url: str  # the origin the caller used, for URLs the server hands out


@dataclass
class ApiResponse:
    status: int = 200
    body: Any = None  # JSON-able; None means an empty body (204)
    headers: dict[str, str] = field(default_factory=dict)
    problem: bool = False  # a problem+json error document

    @classmethod
    def from_error(cls, error: MailchimpError) -> ApiResponse:
        return cls(error.status, error.body(), dict(error.headers), problem=True)


Handler = Callable[[ServerState, ApiRequest], Awaitable[ApiResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler

    @property
    def key(self) -> str:
        """How the request counter names this endpoint, e.g. `PUT /lists/{list_id}/...`."""
        return f"{self.method} {self.template}"


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{regex}/?$")


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        self.routes.append(Route(method, template, _compile(template), handler))

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        path_matched = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            path_matched = True
            if route.method == method:
                return route, found.groupdict()
        raise method_not_allowed() if path_matched else not_found()

    def route_key(self, method: str, path: str) -> str:
        try:
            return self.resolve(method, path)[0].key
        except MailchimpError:
            return f"{method} {path}"

    async def dispatch(
        self,
        state: ServerState,
        method: str,
        path: str,
        query: Mapping[str, str],
        raw_body: str,
        base_url: str,
    ) -> ApiResponse:
        try:
            route, params = self.resolve(method.upper(), "/" + path.lstrip("/"))
            request = ApiRequest(route.method, path, params, query, parse_body(raw_body), base_url)
            return await route.handler(state, request)
        except MailchimpError as error:
            return ApiResponse.from_error(error)
        except Exception:
            # A bug in the stand-in: answer like Mailchimp's 500 so a batch still finishes,
            # and log it so the test output shows the traceback.
            log.exception("handler failed for %s %s", method, path)
            return ApiResponse.from_error(forced(500))


def parse_body(raw: str) -> Any:
    # The official client serialises a missing body as the JSON text `null`.
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise json_parse_error() from None


def json_object(request: ApiRequest) -> dict[str, Any]:
    """The body as an object, or Mailchimp's schema error when it is anything else."""
    if isinstance(request.body, dict):
        return request.body
    found = "NULL" if request.body is None else type(request.body).__name__
    raise validation_failed([field_error("", f"Schema describes object, {found} found instead")])


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """count/offset as Mailchimp reads them: count defaults to 10 and is capped at 1000."""
    try:
        count = int(query.get("count", "10"))
        offset = int(query.get("offset", "0"))
    except ValueError:
        raise invalid_resource("count and offset must be integers.") from None
    return max(0, min(count, 1000)), max(0, offset)
