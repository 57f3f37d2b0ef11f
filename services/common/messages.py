"""What flows through the pipeline: a record in, messages out."""

from __future__ import annotations

import struct
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


# Stored replies, framed: a version byte, then for each reply the lengths of its topic, its key
# (-1 for none) and its value, and their bytes. The values are JSON already; kept as they are,
# they are neither decoded nor escaped again (a JSON list of strings cost a batch of 500 sales
# 2 ms and stored a tenth more).
_FRAMED = b"\x01"
_LENGTHS = struct.Struct("<HiI")
# Written before the framing, and still read: a JSON list of [topic, key, value text].
_JSON_LIST = b"["


def encode_replies(replies: list[Outgoing]) -> bytes:
    parts = [_FRAMED]
    for reply in replies:
        topic = reply.topic.encode()
        key = reply.key.encode() if reply.key is not None else b""
        size = len(key) if reply.key is not None else -1
        parts += (_LENGTHS.pack(len(topic), size, len(reply.value)), topic, key, reply.value)
    return b"".join(parts)


def decode_replies(blob: bytes) -> list[Outgoing]:
    kind = blob[:1]
    if kind == _JSON_LIST:
        return [Outgoing(t, k, v.encode()) for t, k, v in orjson.loads(blob)]
    if kind != _FRAMED:
        raise ValueError(f"stored replies in an unknown format (first byte {kind!r})")
    replies: list[Outgoing] = []
    view = memoryview(blob)
    at = 1
    while at < len(blob):
        if at + _LENGTHS.size > len(blob):
            break
        topic_size, key_size, value_size = _LENGTHS.unpack_from(blob, at)
        at += _LENGTHS.size
        topic = str(view[at : at + topic_size], "utf-8")
        at += topic_size
        key = None
        if key_size >= 0:
            key = str(view[at : at + key_size], "utf-8")
            at += key_size
        replies.append(Outgoing(topic, key, bytes(view[at : at + value_size])))
        at += value_size
    if at != len(blob):
        raise ValueError("stored replies end inside a reply")
    return replies
