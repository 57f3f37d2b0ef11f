"""Timestamps and business dates on the wire.

A timestamp is ISO 8601 text with an offset ("2026-11-22T10:15:00+13:00"). The parsed value keeps
the sender's offset, so a reply can echo the till's local time; compare or store in UTC.
A date ("2026-11-30") is a day in the business time zone: due dates, period ends, birthdays.
"""

import re
from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["Day", "Timestamp"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _timestamp_text(value: object) -> object:
    # pydantic reads a JSON number as seconds since 1970; the contract wants ISO text, and a number
    # says nothing about the till's offset.
    if isinstance(value, float | int):
        raise PydanticCustomError(
            "timestamp_type",
            'a timestamp is ISO 8601 text with an offset such as "2026-11-22T10:15:00+13:00"',
        )
    return value


def _date_text(value: object) -> object:
    # Only "YYYY-MM-DD": pydantic would also take a number or a midnight datetime, and a date that
    # came as a datetime has lost track of which zone's day it was.
    if isinstance(value, float | int) or (
        isinstance(value, str) and _ISO_DATE.fullmatch(value) is None
    ):
        raise PydanticCustomError("date_type", 'a date is text such as "2026-11-30"')
    return value


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_timestamp_text),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-11-22T10:15:00+13:00"]}
    ),
]
"""An aware datetime: a timestamp without an offset is rejected, never guessed."""

Day = Annotated[
    date,
    BeforeValidator(_date_text),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-11-30"]}),
]
