"""Field checks Mailchimp applies to a member before any status rule: address, merge fields,
status values, tags. Each failure is the `Invalid Resource` document Mailchimp returns."""

from __future__ import annotations

import re
from typing import Any

from .errors import field_error, invalid_resource, validation_failed

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
# The audience's merge fields; a new audience in Mailchimp has these (ADDRESS aside).
MERGE_FIELDS = ("FNAME", "LNAME", "PHONE", "BIRTHDAY")

# Deliberately loose: one @, no spaces, a dot in the domain. Mailchimp's own check is
# stricter (it also rejects addresses that "look fake"), which a stand-in should not guess.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_BIRTHDAY = re.compile(r"^(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])$")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_PHONE = re.compile(r"^[0-9+()\-. ]{0,50}$")


def check_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise validation_failed([field_error("email_address", "This value should not be blank.")])
    if not _EMAIL.match(value.strip()):
        message = "Please provide a valid email address."
        raise invalid_resource(message, [field_error("email_address", message)])
    return value.strip()


def check_status(value: Any, field: str = "status") -> str:
    if value not in STATUSES:
        allowed = ", ".join(STATUSES)
        raise validation_failed(
            [field_error(field, f"Value must be one of: {allowed} (not {value!r})")]
        )
    return str(value)


def check_merge_fields(value: Any) -> dict[str, str]:
    """The merge fields to store, with Mailchimp's per-field messages for bad values.

    Unknown tags are ignored, as Mailchimp ignores merge tags the audience does not define.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise validation_failed([field_error("merge_fields", "Schema describes object")])
    errors: list[dict[str, str]] = []
    clean: dict[str, str] = {}
    for tag, raw in value.items():
        if tag not in MERGE_FIELDS:
            continue
        if raw is None:
            raw = ""
        if not isinstance(raw, str | int | float):
            errors.append(field_error(tag, "Data did not match any of the schemas described."))
            continue
        text = str(raw)
        if tag == "BIRTHDAY" and text and not _valid_birthday(text):
            errors.append(field_error(tag, "Please enter a month (01-12) and a day (01-31)"))
        elif tag == "PHONE" and not _PHONE.match(text):
            errors.append(field_error(tag, "Please enter a valid phone number"))
        else:
            clean[tag] = text
    if errors:
        raise invalid_resource("Your merge fields were invalid.", errors)
    return clean


def _valid_birthday(text: str) -> bool:
    found = _BIRTHDAY.match(text)
    return found is not None and int(found[2]) <= _DAYS_IN_MONTH[int(found[1]) - 1]


def check_tag_names(value: Any) -> list[str]:
    """`tags` on a new member: a list of names (Mailchimp's add-member schema)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise validation_failed([field_error("tags", "Schema describes array of strings")])
    return list(value)


def check_tag_updates(value: Any) -> list[tuple[str, bool]]:
    """`{"tags": [{"name", "status"}]}` for POST .../tags, as (name, active) pairs."""
    tags = value.get("tags") if isinstance(value, dict) else None
    if not isinstance(tags, list):
        raise validation_failed([field_error("tags", "Required fields were not provided: tags")])
    updates: list[tuple[str, bool]] = []
    for i, tag in enumerate(tags):
        name = tag.get("name") if isinstance(tag, dict) else None
        status = tag.get("status") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise validation_failed([field_error(f"tags.item:{i}.name", "Name is required")])
        if status not in ("active", "inactive"):
            message = "Value must be one of: active, inactive"
            raise validation_failed([field_error(f"tags.item:{i}.status", message)])
        updates.append((name.strip(), status == "active"))
    return updates
