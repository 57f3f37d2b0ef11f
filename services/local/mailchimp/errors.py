"""Mailchimp's error documents (RFC 7807 problem details) and the exception that carries them.

Every failure the stand-in reports, over HTTP or inside a batch archive, goes through
`MailchimpError.body()` so that callers parse exactly what Mailchimp would send: `type`,
`title`, `status`, `detail`, `instance` and, for validation failures, `errors[]`.
"""

from __future__ import annotations

import uuid
from typing import Any

ERROR_DOC_URL = "https://mailchimp.com/developer/marketing/docs/errors/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
VALIDATION_DETAIL = (
    "The resource submitted could not be validated. For field-specific details, "
    "see the 'errors' array."
)


class MailchimpError(Exception):
    """An API failure with Mailchimp's title and detail wording."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": ERROR_DOC_URL,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            # Mailchimp gives every occurrence its own id so support can find it.
            "instance": str(uuid.uuid4()),
        }
        if self.errors is not None:
            doc["errors"] = self.errors
        return doc


def field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def not_found() -> MailchimpError:
    return MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")


def method_not_allowed() -> MailchimpError:
    return MailchimpError(
        405,
        "Method Not Allowed",
        "The requested method and resource are not compatible. "
        "See the Allow header for this resource's available methods.",
    )


def invalid_resource(detail: str, errors: list[dict[str, str]] | None = None) -> MailchimpError:
    return MailchimpError(400, "Invalid Resource", detail, errors)


def validation_failed(errors: list[dict[str, str]]) -> MailchimpError:
    return invalid_resource(VALIDATION_DETAIL, errors)


def json_parse_error() -> MailchimpError:
    return MailchimpError(
        400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
    )


def member_exists(email: str) -> MailchimpError:
    return MailchimpError(
        400,
        "Member Exists",
        f"{email} is already a list member. Use PUT to insert or update list members.",
    )


def compliance_state(email: str) -> MailchimpError:
    return MailchimpError(
        400,
        "Member In Compliance State",
        f"{email} is in a compliance state due to unsubscribe, bounce, or compliance review "
        "and cannot be subscribed.",
    )


def forgotten_email(email: str) -> MailchimpError:
    return MailchimpError(
        400,
        "Forgotten Email Not Subscribed",
        f"{email} was permanently deleted and cannot be re-imported. "
        "The contact must re-subscribe to get back on the list.",
    )


def api_key_missing() -> MailchimpError:
    return MailchimpError(401, "API Key Missing", "Your request did not include an API key.")


def api_key_invalid() -> MailchimpError:
    return MailchimpError(
        401,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    )


def too_many_requests(limit: int, retry_after: float | None = None) -> MailchimpError:
    headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else None
    return MailchimpError(
        429,
        "Too Many Requests",
        f"You have exceeded the limit of {limit} simultaneous connections.",
        headers=headers,
    )


# Titles for statuses a test forces through /_admin/faults; the wording follows the
# reason phrases Mailchimp puts in `title` for the same statuses.
_FORCED_TITLES = {
    400: ("Bad Request", "The request could not be processed."),
    403: ("Forbidden", "You don't have permission to access this resource."),
    404: ("Resource Not Found", "The requested resource could not be found."),
    429: ("Too Many Requests", "You have exceeded the limit of 10 simultaneous connections."),
    500: (
        "Internal Server Error",
        "An unexpected internal error has occurred. Please contact Support for more information.",
    ),
    502: ("Bad Gateway", "The server received an invalid response from an upstream server."),
    503: ("Service Unavailable", "The service is temporarily unavailable. Please try again."),
    504: ("Gateway Timeout", "The server did not receive a timely response."),
}


def forced(status: int, retry_after: float | None = None) -> MailchimpError:
    title, detail = _FORCED_TITLES.get(status, ("Error", "A forced error from the test stand-in."))
    headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else None
    return MailchimpError(status, title, detail, headers=headers)


def _seconds(value: float) -> str:
    # Retry-After is delta-seconds: a non-negative integer (RFC 9110 10.2.3).
    return str(max(0, round(value)))
