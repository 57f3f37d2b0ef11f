"""The base of every message, and the string types the messages share."""

import re
from typing import Annotated, Any, ClassVar, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

__all__ = [
    "EMAIL_CHARS_MAX",
    "ID_CHARS_MAX",
    "TEXT_CHARS_MAX",
    "Email",
    "Id",
    "Message",
    "Name",
    "PartialUpdate",
    "Text",
]

ID_CHARS_MAX = 200
TEXT_CHARS_MAX = 2000
EMAIL_CHARS_MAX = 254  # RFC 5321 path limit
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")


class Message(BaseModel):
    """A message on a topic: immutable once parsed, tolerant of fields it does not know.

    Unknown fields are ignored so producers can add fields before consumers are upgraded
    (contract: forward compatibility). Whitespace is kept: silently stripping an id would make
    " ACC-1" and "ACC-1" the same account in one service and different ones in another.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)


class PartialUpdate(Message):
    """A message that changes only what it mentions: an absent field keeps its value, `null`
    clears it.

    Every field not in `FIXED_FIELDS` is an update. Serialising leaves out the updates that were
    absent, so a message forwarded or stored and parsed again means the same thing (writing them
    as null would turn "keep" into "clear").
    """

    FIXED_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def changes(self) -> dict[str, object]:
        """The updates present in the message, with their new values (None: cleared)."""
        return {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name in self.model_fields_set and name not in self.FIXED_FIELDS
        }

    @model_serializer(mode="wrap")
    def _absent_stays_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in type(self).model_fields:
            if name not in self.FIXED_FIELDS and name not in self.model_fields_set:
                data.pop(name, None)
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The serializer above only drops keys, so the output schema is the fields' schema; left
        # alone, pydantic would describe it by its return type, a bare `dict[str, Any]`.
        return handler(_without_model_serializer(core_schema))


def _without_model_serializer(schema: CoreSchema) -> CoreSchema:
    # A model with an after-validator arrives wrapped (function-after -> model); the serializer
    # sits on the inner model schema.
    stripped: dict[str, Any] = {k: v for k, v in schema.items() if k != "serialization"}
    if schema["type"] != "model" and "schema" in schema:
        stripped["schema"] = _without_model_serializer(schema["schema"])
    return cast(CoreSchema, stripped)


def _printable_id(value: str) -> str:
    # An id is a database key, a Kafka key and a log field: a stray space or newline would split
    # one account into two or forge a log line.
    if not value.isprintable() or value != value.strip():
        raise PydanticCustomError(
            "id_format", "an id is printable text without leading or trailing spaces"
        )
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "text must not be blank")
    return value


def _email(value: str) -> str:
    # Deliberately loose: the mail server is the real judge. This catches the typos that matter
    # (no "@", no domain, spaces) without refusing unusual but valid addresses.
    if len(value) > EMAIL_CHARS_MAX or _EMAIL.fullmatch(value) is None:
        raise PydanticCustomError("email", "not an email address such as name@example.com")
    return value


Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ID_CHARS_MAX),
    AfterValidator(_printable_id),
]
"""A client-chosen identifier: 1 to 200 printable characters, no surrounding spaces."""

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=ID_CHARS_MAX), AfterValidator(_not_blank)
]
"""A short label a person reads: an account name, a category, a reason code."""

Text = Annotated[
    str, StringConstraints(min_length=1, max_length=TEXT_CHARS_MAX), AfterValidator(_not_blank)
]
"""Free text for people: a memo, a reason, a rejection detail."""

Email = Annotated[str, AfterValidator(_email)]
