"""What a service gives the pipeline for each topic it consumes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.inbox import Claims
from services.common.messages import Outgoing, Record

M = TypeVar("M")
M_contra = TypeVar("M_contra", contravariant=True)


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


class UnlockedRun(Protocol[M_contra]):
    """A run of one topic's messages read without locks, in one statement with their claims."""

    @property
    def stored(self) -> Mapping[str, list[Outgoing]]:
        """The replies stored with the claims of the run's message ids applied before."""
        ...

    async def apply(self, messages: Sequence[M_contra], now: datetime) -> list[list[Outgoing]]:
        """Applies the new messages in order, their writes going to the pipeline's `Writes`
        for one guarded statement; raises `Contended`, having written nothing, where only the
        locking path can go on."""
        ...


@runtime_checkable
class UnlockedTopicHandler(TopicHandler[M], Protocol[M]):
    """A handler that can also apply a run without locks: one unlocked read, which also finds
    the run's claims (the inbox), then writes that the pipeline's `Writes` sends as one guarded
    statement (all or nothing on the versions read). Two round trips a batch."""

    async def read_unlocked(
        self, conn: AsyncConnection, messages: Sequence[M], claims: Claims
    ) -> UnlockedRun[M]:
        """Reads, on a connection without a transaction, what applying `messages` needs and
        the replies stored for `claims`, in one statement."""
        ...
