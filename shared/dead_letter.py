"""`<topic>.dlq`: a message a consumer could not use, kept whole so it can be replayed."""

import base64
import binascii
from datetime import datetime
from typing import Self

from pydantic import Field, model_validator

from shared.base import Message
from shared.timestamps import Timestamp

__all__ = ["ERROR_CHARS_MAX", "DeadLetter", "dead_letter_key"]

# A pydantic error list for a large batch can run to megabytes; the head says what went wrong,
# and the dead letter must stay under the broker's message size limit.
ERROR_CHARS_MAX = 8000


class DeadLetter(Message):
    """Where the message came from, why it failed, and its exact bytes.

    The bytes are stored once: as `original_text` when they are valid UTF-8 (readable in any
    tool, and `text.encode("utf-8")` gives the same bytes back), otherwise as `original_b64`
    (standard base64). Exactly one of the two is set; `original_bytes()` returns the bytes.
    `key` is the record key decoded as UTF-8, with undecodable bytes backslash-escaped.
    """

    topic: str = Field(min_length=1)
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key: str | None = None
    consumer_group: str = Field(min_length=1)
    error: str
    failed_at: Timestamp
    original_text: str | None = None
    original_b64: str | None = None

    @classmethod
    def from_record(
        cls,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        consumer_group: str,
        error: str,
        failed_at: datetime,
        original: bytes | None,
    ) -> Self:
        """The dead letter for one record; a tombstone (`original` None) is kept as empty bytes."""
        raw = original or b""
        try:
            text: str | None = raw.decode("utf-8")
            b64: str | None = None
        except UnicodeDecodeError:
            text, b64 = None, base64.b64encode(raw).decode("ascii")
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            key=None if key is None else key.decode("utf-8", errors="backslashreplace"),
            consumer_group=consumer_group,
            error=error[:ERROR_CHARS_MAX],
            failed_at=failed_at,
            original_text=text,
            original_b64=b64,
        )

    def original_bytes(self) -> bytes:
        if self.original_text is not None:
            return self.original_text.encode("utf-8")
        assert self.original_b64 is not None  # the validator guarantees one of the two
        return base64.b64decode(self.original_b64, validate=True)

    @model_validator(mode="after")
    def _one_original(self) -> Self:
        if (self.original_text is None) == (self.original_b64 is None):
            raise ValueError("exactly one of original_text and original_b64 is set")
        if self.original_b64 is not None:
            try:
                base64.b64decode(self.original_b64, validate=True)
            except binascii.Error as error:
                raise ValueError(f"original_b64 is not base64: {error}") from error
        return self


def dead_letter_key(letter: DeadLetter) -> str | None:
    """Dead letters keep the original record's key, so a replay lands on the same partition."""
    return letter.key
