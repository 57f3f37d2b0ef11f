"""The consume-validate-apply-publish pipeline that every consumer runs.

For each polled batch: validate every record (a failure becomes a dead letter and the batch goes
on), then in ONE database transaction claim the message ids, apply the new messages and store
each one's replies with its claim (the inbox); publish after the commit; the caller commits
offsets last. A crash between any two steps repeats work but never doubles an effect: the ids
are claimed in the transaction of their effect, and a repeated id republishes its stored
replies. So the inbox is this path's outbox: a batch committed but not published is consumed
again, because its offsets were not committed, and its replies go out then.

On PostgreSQL a batch of one topic whose handler can (`UnlockedTopicHandler`) is first applied
without a transaction: the handler's reads and the batch's claims in one statement without
locks, then the claims and every effect in ONE guarded statement, which commits alone and writes
nothing if a row read has changed since (`Writes`). Two round trips instead of seven. If it
cannot stand (a concurrent writer, a claim taken meanwhile, something only the locking path
does), nothing was written and the batch is applied again in a transaction with row locks, as
every batch on SQLite is.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.bulk import Writes
from services.common.clock import Clock
from services.common.dead_letters import dead_letter
from services.common.errors import Contended, Unprocessable
from services.common.handler import TopicHandler, UnlockedTopicHandler
from services.common.inbox import Inbox, MessageKey
from services.common.messages import Inbound, Outgoing, Record
from services.common.metrics import Metrics

log = logging.getLogger(__name__)


AfterCommit = Callable[[Sequence[Outgoing]], Awaitable[None]]
Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
# Hands messages to the producer now, in order; returns what completes when all are confirmed.
Send = Callable[[Sequence[Outgoing]], Awaitable[Awaitable[None]]]


async def _nothing() -> None:
    return None


class PoisonBatch(Exception):
    """Applying failed for a reason that retrying will not cure (a bug, not an outage)."""


@dataclass
class Batch:
    """One poll's records after validation."""

    valid: list[Inbound[Any]] = field(default_factory=list)
    rejected: list[Outgoing] = field(default_factory=list)


class Pipeline:
    def __init__(
        self,
        *,
        consumer_group: str,
        engine: AsyncEngine,
        handlers: Mapping[str, TopicHandler[Any]],
        inbox: Inbox,
        publish: Publish,
        clock: Clock,
        send: Send | None = None,
        metrics: Metrics,
        retry_backoff_max_s: float = 5.0,
        conflict_retries_max: int = 5,
        publish_attempts_max: int = 5,
        after_commit: AfterCommit | None = None,
        unlocked_reads: bool = True,
        unlocked_engine: AsyncEngine | None = None,
    ) -> None:
        self._group = consumer_group
        self._engine = engine
        # Without BEGIN: each statement commits alone. Its own pool if given (the worker's plans
        # its statements once, `create_engine(key_lookups_only=True)`), else the same one.
        self._unlocked: AsyncEngine | None = (
            (unlocked_engine or engine).execution_options(isolation_level="AUTOCOMMIT")
            if unlocked_reads and engine.dialect.name == "postgresql"
            else None
        )
        self._unlocked_handlers: dict[str, UnlockedTopicHandler[Any]] = {
            topic: h for topic, h in handlers.items() if isinstance(h, UnlockedTopicHandler)
        }
        self._handlers = handlers
        self._inbox = inbox
        self._publish = publish
        self._send: Send = send if send is not None else self._send_and_confirm_later
        self._clock = clock
        self._metrics = metrics
        self._backoff_max_s = retry_backoff_max_s
        self._conflict_retries_max = conflict_retries_max
        self._publish_attempts_max = publish_attempts_max
        self._after_commit = after_commit
        # The previous batch's messages until the broker has them all (resent if need be): the
        # next batch is applied meanwhile but sent only after, so that a resend cannot put an
        # account's earlier events behind its later ones.
        self._delivering: asyncio.Future[None] | None = None

    async def handle(self, records: Sequence[Record]) -> None:
        """Applies a batch and publishes its messages; returns when offsets may be committed.

        Raises when the messages could not be published: the caller must then not commit the
        offsets, and the batch, consumed again, republishes the replies stored with its claims.
        """
        await (await self.apply_and_send(records))

    async def apply_and_send(self, records: Sequence[Record]) -> Awaitable[None]:
        """Applies a batch and hands its messages to the producer, in order; returns what to
        await before its offsets may be committed: every acknowledgement (retrying what
        failed), then the read model. Meanwhile the next batch can be applied."""
        stage = self._metrics.stage_seconds
        with self._metrics.batch_seconds.time():
            now = self._clock.now()
            with stage.labels("validate").time():
                batch = self._validate(records, now)
            with stage.labels("apply").time():
                try:
                    replies = await self._commit_with_retries(batch.valid, now)
                except PoisonBatch:
                    replies = await self._isolate(batch.valid, now)
            # Dead letters are made from the record alone: made again, they are the same.
            messages = [*batch.rejected, *replies]
            with stage.labels("send").time():
                previous, self._delivering = self._delivering, None
                if previous is not None:
                    try:
                        await asyncio.shield(previous)
                    except Exception as error:
                        # The previous batch could not be published: it will be consumed
                        # again, and this one, not sent, too (offsets.py: in batch order).
                        return _failed(error)
                acknowledged = await self._send(messages) if messages else None
        delivering = asyncio.ensure_future(self._deliver(messages, acknowledged))
        self._delivering = delivering
        return asyncio.ensure_future(self._confirm(messages, delivering))

    async def _deliver(
        self, messages: list[Outgoing], acknowledged: Awaitable[None] | None
    ) -> None:
        started = time.perf_counter()
        if acknowledged is not None:
            try:
                await acknowledged
            except Exception as error:
                log.info("publishing failed (%s); sending the batch's messages again", error)
                self._metrics.retries.labels("publish").inc()
                await self._publish_with_retries(messages, attempt=1)
        self._metrics.stage_seconds.labels("publish").observe(time.perf_counter() - started)

    async def _confirm(self, messages: list[Outgoing], delivering: Awaitable[None]) -> None:
        await delivering
        # After the replies: a till waits for its decision, not for the read model.
        if self._after_commit is not None:
            await self._after_commit(messages)

    async def _send_and_confirm_later(self, messages: Sequence[Outgoing]) -> Awaitable[None]:
        """Without a separate send, publishing is done before the next batch is applied."""
        await self._publish_with_retries(messages)
        return _nothing()

    async def _publish_with_retries(self, messages: Sequence[Outgoing], attempt: int = 0) -> None:
        if not messages:
            return
        while True:
            try:
                await self._publish(messages)
                return
            except Exception as error:
                attempt += 1
                self._metrics.retries.labels("publish").inc()
                if attempt >= self._publish_attempts_max:
                    log.warning(
                        "publishing %d messages failed %d times (%s); the batch will be "
                        "consumed again and its stored replies published then",
                        len(messages),
                        attempt,
                        type(error).__name__,
                    )
                    raise
                await asyncio.sleep(_backoff(attempt, self._backoff_max_s))

    def _validate(self, records: Sequence[Record], now: datetime) -> Batch:
        batch = Batch()
        for record in records:
            handler = self._handlers[record.topic]
            try:
                message = handler.parse(record.value)
            except ValueError as error:
                reason = _describe(error)
                log.info(
                    "invalid record %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    reason,
                )
                self._metrics.messages.labels(record.topic, "invalid").inc()
                batch.rejected.append(dead_letter(record, reason, self._group, now))
                batch.rejected.extend(handler.rejection(record, reason, now))
                continue
            batch.valid.append(Inbound(record, message, handler.message_id(message)))
        return batch

    async def _commit_with_retries(
        self, valid: list[Inbound[Any]], now: datetime
    ) -> list[Outgoing]:
        """Retries outages without bound (a good message is never dead-lettered for them)."""
        if not valid:
            return []
        attempt = 0
        conflicts = 0
        unlocked = self._unlocked
        if unlocked is not None and any(
            m.record.topic not in self._unlocked_handlers for m in valid
        ):
            unlocked = None
        while True:
            try:
                if unlocked is not None:
                    replies = await self._apply_unlocked(unlocked, valid, now)
                    if replies is not None:
                        return replies
                    unlocked = None  # from here on, the locking path
                async with self._engine.begin() as conn:
                    return await self._apply(conn, valid, now)

            except (OperationalError, InterfaceError, OSError, TimeoutError) as error:
                attempt += 1
                await self._wait_out_outage(error, attempt)
            except DBAPIError as error:
                if _is_outage(error):
                    attempt += 1
                    await self._wait_out_outage(error, attempt)
                    continue
                # A unique claim lost to another worker (a rebalance) or a deadlock: the next
                # attempt sees the winner's rows. Past a bound it is not a race but a bug.
                conflicts += 1
                self._metrics.retries.labels("conflict").inc()
                if conflicts > self._conflict_retries_max:
                    raise PoisonBatch(str(error.orig)) from error
                level = logging.INFO if isinstance(error, IntegrityError) else logging.WARNING
                log.log(level, "transaction conflict (%s); retrying", type(error.orig).__name__)
                await asyncio.sleep(_backoff(conflicts, self._backoff_max_s))
            except Unprocessable as error:
                raise PoisonBatch(str(error)) from error
            except (ValueError, TypeError, KeyError, AssertionError, ArithmeticError) as error:
                raise PoisonBatch(f"internal error: {type(error).__name__}: {error}") from error

    async def _wait_out_outage(self, error: Exception, attempt: int) -> None:
        self._metrics.retries.labels("outage").inc()
        delay = _backoff(attempt, self._backoff_max_s)
        log.warning(
            "database unavailable (%s); retry %d in %.2fs", type(error).__name__, attempt, delay
        )
        await asyncio.sleep(delay)

    async def _apply_unlocked(
        self, engine: AsyncEngine, valid: list[Inbound[Any]], now: datetime
    ) -> list[Outgoing] | None:
        """The batch applied without locks, or None, having written nothing, if the locking
        path must apply it: what it read changed before it wrote (a serialization failure), a
        claim or a row it inserts was taken meanwhile (a unique violation), a deadlock between
        its row updates and another writer's, or a handler that needs locks."""
        try:
            async with engine.connect() as conn:
                return await self._apply_without_locks(conn, valid, now)
        except Contended as why:
            reason = str(why)
        except DBAPIError as error:
            if _sqlstate(error) not in _CONTENDED and not isinstance(error, IntegrityError):
                raise
            reason = f"{type(error.orig).__name__}: {_sqlstate(error)}"
        self._metrics.retries.labels("contended").inc()
        log.info("applying the batch without locks did not stand (%s); with locks now", reason)
        return None

    async def _apply_without_locks(
        self, conn: AsyncConnection, valid: list[Inbound[Any]], now: datetime
    ) -> list[Outgoing]:
        """A batch of one topic: its handler reads, in one statement without locks, what the
        batch needs and its claims; the new messages' effects and claims go in one guarded
        statement. Two round trips."""
        topic = valid[0].record.topic
        if any(m.record.topic != topic for m in valid):
            raise Contended("a batch of several topics takes the locking path")
        # Only topics with such a handler come this way (_commit_with_retries).
        handler = self._unlocked_handlers[topic]
        keys: list[MessageKey] = [(topic, m.message_id) for m in valid]
        run = await handler.read_unlocked(
            conn, [m.message for m in valid], self._inbox.claims(topic, [k for _, k in keys])
        )
        replies = {(topic, message_id): stored for message_id, stored in run.stored.items()}
        fresh = _new_messages(valid, keys, set(replies))
        if fresh:
            writes = Writes()
            writes.attach(conn)
            try:
                results = await run.apply([m.message for m in fresh], now)
                for message, result in zip(fresh, results, strict=True):
                    replies[(topic, message.message_id)] = result
                await self._record_claims(conn, fresh, replies, now, writes)
            finally:
                writes.detach(conn)
        self._count(valid, fresh)
        # Every delivery gets its replies, the second one too (the contract: republished).
        return [reply for key in keys for reply in replies[key]]

    async def _apply(
        self, conn: AsyncConnection, valid: list[Inbound[Any]], now: datetime
    ) -> list[Outgoing]:
        keys: list[MessageKey] = [(m.record.topic, m.message_id) for m in valid]
        replies = await self._inbox.find(conn, keys)
        fresh = _new_messages(valid, keys, set(replies))
        # The handlers' writes and the claims go to the database together at the end (one
        # round trip on PostgreSQL); a run only reads after the runs before it are written.
        writes = Writes()
        writes.attach(conn)
        try:
            for run in _runs_by_topic(fresh):
                await writes.flush(conn)
                topic = run[0].record.topic
                results = await self._handlers[topic].apply(conn, [m.message for m in run], now)
                for message, result in zip(run, results, strict=True):
                    replies[(message.record.topic, message.message_id)] = result
            await self._record_claims(conn, fresh, replies, now, writes)
        finally:
            writes.detach(conn)
        self._count(valid, fresh)
        # Every delivery gets its replies, the second one too (the contract: republished).
        return [reply for key in keys for reply in replies[key]]

    async def _record_claims(
        self,
        conn: AsyncConnection,
        fresh: list[Inbound[Any]],
        replies: Mapping[MessageKey, list[Outgoing]],
        now: datetime,
        writes: Writes,
    ) -> None:
        """The new messages' claims with their replies, then every write of the batch, in one
        statement on PostgreSQL."""
        claims = [
            ((m.record.topic, m.message_id), replies[(m.record.topic, m.message_id)]) for m in fresh
        ]
        await self._inbox.record(conn, claims, now, writes=writes)
        await writes.flush(conn)

    def _count(self, valid: list[Inbound[Any]], fresh: list[Inbound[Any]]) -> None:
        applied = {id(message) for message in fresh}
        self._metrics.count_messages(
            (m.record.topic, "applied" if id(m) in applied else "duplicate") for m in valid
        )

    async def _isolate(self, valid: list[Inbound[Any]], now: datetime) -> list[Outgoing]:
        """Applies the batch one message at a time so that one bad message cannot stall it.

        A failed message is not claimed: once the bug is fixed, its dead letter can be
        replayed and applied.
        """
        replies: list[Outgoing] = []
        for message in valid:
            try:
                replies += await self._commit_with_retries([message], now)
            except PoisonBatch as error:
                log.error(
                    "message %s failed and goes to the dead letters: %s", message.message_id, error
                )
                self._metrics.messages.labels(message.record.topic, "failed").inc()
                replies.append(dead_letter(message.record, str(error), self._group, now))
        return replies


# Serialization failure (a guarded write found a row changed), deadlock detected.
_CONTENDED = frozenset({"40001", "40P01"})


def _new_messages(
    valid: list[Inbound[Any]], keys: list[MessageKey], claimed: set[MessageKey]
) -> list[Inbound[Any]]:
    """The messages not claimed before, each id once (a batch may hold an id twice)."""
    fresh: list[Inbound[Any]] = []
    for message, key in zip(valid, keys, strict=True):
        if key not in claimed:
            claimed.add(key)
            fresh.append(message)
    return fresh


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def _runs_by_topic(messages: list[Inbound[Any]]) -> list[list[Inbound[Any]]]:
    """Consecutive messages of one topic, in arrival order."""
    runs: list[list[Inbound[Any]]] = []
    for message in messages:
        if runs and runs[-1][0].record.topic == message.record.topic:
            runs[-1].append(message)
        else:
            runs.append([message])
    return runs


def _is_outage(error: DBAPIError) -> bool:
    """The database, not the batch, failed: no connection could be made, or it was lost.

    asyncpg reports a server that refuses connections (connections not allowed, starting up,
    too many clients) as a plain DBAPIError raised while connecting, that is with no statement;
    retried as a conflict, it would end the batch in the dead letters.
    """
    connecting = error.statement is None and not isinstance(error, IntegrityError)
    return error.connection_invalidated or connecting


def _backoff(attempt: int, ceiling_s: float) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(ceiling_s, 0.05 * 2 ** min(attempt, 10)))


def _describe(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        parts = []
        for item in errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in item.get("loc", ())) or "message"
            parts.append(f"{where}: {item.get('msg', '')}")
        return "; ".join(parts)
    return str(error)


def _failed(error: Exception) -> Awaitable[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future
