"""What flows through the pipeline: a record in, messages out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson
from pydantic import BaseModel

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish: a contract topic, its key and the JSON bytes."""

    topic: str
    key: str | None
    value: bytes

    @classmethod
    def of(cls, topic: str, key: str | None, message: BaseModel) -> Outgoing:
        return cls(topic, key, message.model_dump_json(by_alias=True).encode())


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed record, reduced to what the pipeline needs (the topic is the contract name)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Inbound(Generic[M]):
    """A record that passed validation."""

    record: Record
    message: M
    message_id: str


def encode_replies(replies: list[Outgoing]) -> bytes:
    return orjson.dumps([[r.topic, r.key, r.value.decode()] for r in replies])


def decode_replies(blob: bytes) -> list[Outgoing]:
    return [Outgoing(topic, key, value.encode()) for topic, key, value in orjson.loads(blob)]
