"""What a service gives the pipeline for each topic it consumes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing, Record

M = TypeVar("M")


class TopicHandler(Protocol[M]):
    """Parses one topic's records and applies a run of them in the pipeline's transaction."""

    topic: str

    def parse(self, raw: bytes) -> M:
        """The validated message; raises ValueError (pydantic's ValidationError is one)."""
        ...

    def message_id(self, message: M) -> str: ...

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        """Replies owed to a record that failed validation (besides its dead letter)."""
        ...

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[M], now: datetime
    ) -> list[list[Outgoing]]:
        """Applies new messages in order; returns each one's outgoing messages."""
        ...


@runtime_checkable
class UnlockedTopicHandler(TopicHandler[M], Protocol[M]):
    """A handler that can also apply a run without locks: one unlocked read, then writes that
    the pipeline's `Writes` sends as one guarded statement (all or nothing on the versions
    read)."""

    async def apply_unlocked(
        self, conn: AsyncConnection, messages: Sequence[M], now: datetime
    ) -> list[list[Outgoing]]:
        """As `apply`, on a connection without a transaction; raises `Contended`, having
        written nothing, where only the locking path can go on."""
        ...
