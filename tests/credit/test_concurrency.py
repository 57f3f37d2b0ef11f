"""Concurrency on PostgreSQL: a rush of authorizations on one account, a rebalance between two
workers, and a worker killed with SIGKILL mid-burst. Whatever the interleaving, a sale is charged
once, a restricted account stays within its limit, every balance is the sum of its entries, and
a request that gets its decision more than once gets the same decision each time.

The embedded broker (Tansu, memory storage) can make batches that several producers append to
one partition at the same moment visible out of order: a fetch at offset N may answer with N+2
first, and a consumer reading the tail right then moves past N for good. (Apache Kafka does not:
its high watermark never passes a record that is not yet readable.) So here each partition of
the sales topic has one producer (the producers still send at the same time, on different
partitions); the one test that sends on a single partition from several producers does it while
no worker reads that partition; and the reader of the replies never reads past a hole (these
topics have no compaction and no transactions, so a jump in offsets only means "not visible
yet").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.database import create_engine
from services.common.settings import RuntimeSettings
from services.common.worker import Worker
from services.credit import repository
from services.credit.app import SPEC
from services.credit.tables import accounts, entries, runtime, sale_charges
from services.local.process import free_port
from shared.topics import ACCOUNT_COMMANDS, ACCOUNT_EVENTS, CREDIT_DECISIONS, POS_SALES
from tests.conftest import create_postgres_database
from tests.support.credit import authorize, open_account
from tests.support.kafka import Producer
from tests.support.naming import unique
from tests.support.workers import running_worker

REPO = Path(__file__).resolve().parents[2]
Message = dict[str, Any]


@pytest.fixture
async def postgres_url(postgres_server: str) -> str:
    """Row locks and rebalances are about PostgreSQL: a new database of this test's own."""
    return await create_postgres_database(postgres_server)


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def commands(settings: RuntimeSettings) -> AsyncIterator[Producer]:
    producer = Producer(settings.kafka_bootstrap_servers)
    await producer.start()
    yield producer
    await producer.stop()


# Reading -------------------------------------------------------------------------------


class Replies:
    """Reads the decisions and account events from the beginning, outside any group, and never
    past a hole in a partition's offsets: on a hole it reads that partition again from there."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self._bootstrap = settings.kafka_bootstrap_servers
        self.decisions = settings.topic(CREDIT_DECISIONS)
        self.events = settings.topic(ACCOUNT_EVENTS)
        self._partitions = settings.topic_partitions
        self._consumer: AIOKafkaConsumer | None = None
        self._next: dict[TopicPartition, int] = {}
        self._messages: dict[str, list[Message]] = defaultdict(list)

    async def start(self) -> None:
        """Call once a worker has created the topics."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await consumer.start()
        self._consumer = consumer
        self._next = {
            TopicPartition(topic, p): 0
            for topic in (self.decisions, self.events)
            for p in range(self._partitions)
        }
        consumer.assign(list(self._next))
        await consumer.seek_to_beginning(*self._next)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def read(self, seconds: float) -> None:
        """Reads for a while (also to show that nothing more arrives)."""
        assert self._consumer is not None, "start() first"
        deadline = time.monotonic() + seconds
        while True:
            batches = await self._consumer.getmany(timeout_ms=20)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < self._next[tp]:
                        continue
                    if record.offset > self._next[tp]:
                        self._consumer.seek(tp, self._next[tp])
                        break
                    self._next[tp] = record.offset + 1
                    self._messages[tp.topic].append(orjson.loads(record.value))
            if time.monotonic() >= deadline:
                return

    def messages(self, topic: str) -> list[Message]:
        return list(self._messages[topic])

    async def wait_for(
        self, done: Callable[[], bool], timeout_s: float, what: Callable[[], str]
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout_s}s: {what()}")
            await self.read(0.05)

    def decided(self, requests: Sequence[Message]) -> dict[str, list[Message]]:
        """Every decision published for each of these requests (absent: none yet)."""
        wanted = {sale["event_id"] for sale in requests}
        found: dict[str, list[Message]] = defaultdict(list)
        for message in self.messages(self.decisions):
            if message["request_event_id"] in wanted:
                found[message["request_event_id"]].append(message)
        return dict(found)

    async def all_decided(
        self, requests: Sequence[Message], timeout_s: float, log: Path | None = None
    ) -> dict[str, list[Message]]:
        """Waits until every request has a decision, then reads a little longer for repeats."""
        await self.wait_for(
            lambda: len(self.decided(requests)) == len(requests),
            timeout_s,
            lambda: (
                f"{len(self.decided(requests))} of {len(requests)} requests decided"
                + (f"\n{tail(log)}" if log is not None else "")
            ),
        )
        await self.read(0.5)
        return self.decided(requests)


@pytest.fixture
async def replies(settings: RuntimeSettings) -> AsyncIterator[Replies]:
    reader = Replies(settings)
    yield reader
    await reader.stop()


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


# Sending -------------------------------------------------------------------------------


def partition_of(key: str, partitions: int) -> int:
    """The partition aiokafka's default partitioner (murmur2, as Java's) gives a key."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


class Tills:
    """Several producers sending at the same time. `one_per_partition` gives each partition
    its own producer (see the module's note on the embedded broker)."""

    def __init__(self, settings: RuntimeSettings, count: int, *, one_per_partition: bool) -> None:
        self._topic = settings.topic(POS_SALES)
        self._partitions = settings.topic_partitions
        self._routed = one_per_partition
        if one_per_partition:
            count = self._partitions
        self._producers = [
            AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=0)
            for _ in range(count)
        ]
        self.sent = 0

    async def __aenter__(self) -> Tills:
        await asyncio.gather(*(producer.start() for producer in self._producers))
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.gather(*(producer.stop() for producer in self._producers))

    def _producer(self, i: int, sale: Message) -> AIOKafkaProducer:
        if self._routed:
            return self._producers[partition_of(sale["account_number"], self._partitions)]
        return self._producers[i % len(self._producers)]

    async def send(self, sales: Sequence[Message]) -> None:
        """Sends all at once and waits for every acknowledgement."""
        await asyncio.gather(
            *(
                self._producer(i, sale).send_and_wait(
                    self._topic, orjson.dumps(sale), key=sale["account_number"].encode()
                )
                for i, sale in enumerate(sales)
            )
        )
        self.sent += len(sales)


@dataclass(frozen=True)
class Terms:
    limit: Decimal
    restrict: bool = True


async def open_accounts(
    settings: RuntimeSettings, commands: Producer, replies: Replies, terms: dict[str, Terms]
) -> None:
    """Opens the accounts and waits until all are open."""
    for number, term in terms.items():
        command = open_account(number, f"{term.limit:.2f}", term.restrict)
        await commands.send(settings.topic(ACCOUNT_COMMANDS), command, number)

    def opened() -> set[str]:
        return {
            m["account_number"]
            for m in replies.messages(replies.events)
            if m["type"] == "account_opened"
        }

    await replies.wait_for(
        lambda: terms.keys() <= opened(),
        30.0,
        lambda: f"opened {len(opened() & terms.keys())} of {len(terms)} accounts",
    )


def spread_accounts(count: int, partitions: int) -> list[str]:
    """Account numbers on every partition, so that whichever partitions a worker owns, it has
    accounts to decide on."""
    by_partition: dict[int, list[str]] = {p: [] for p in range(partitions)}
    while min(len(numbers) for numbers in by_partition.values()) * partitions < count:
        number = unique("ACC-")
        by_partition[partition_of(number, partitions)].append(number)
    interleaved = [n for group in zip(*by_partition.values(), strict=False) for n in group]
    return interleaved[:count]


def burst(numbers: Sequence[str], per_account: int) -> list[Message]:
    """Authorizations interleaved across the accounts, of 5.00 to 25.00 each."""
    return [
        authorize(number, f"{5 * (1 + (i + j) % 5)}.00")
        for j in range(per_account)
        for i, number in enumerate(numbers)
    ]


# Checking ------------------------------------------------------------------------------


def the_decision(decisions: list[Message]) -> Message:
    """A decision published again must be the same decision, down to its id and its time."""
    first = decisions[0]
    assert all(d == first for d in decisions), decisions
    return first


async def assert_books_agree(
    engine: AsyncEngine, terms: dict[str, Terms], decisions: dict[str, list[Message]]
) -> list[Message]:
    """The database and the published decisions tell the same story; returns the decisions."""
    final = [the_decision(found) for found in decisions.values()]
    for d in final:
        assert d["decision"] == "approved" or d["reason"] == "insufficient_credit", d
    approved = {d["sale_id"]: d for d in final if d["decision"] == "approved"}
    async with engine.connect() as conn:
        charged = {
            row.sale_id: row
            for row in await conn.execute(
                select(sale_charges).where(sale_charges.c.account_number.in_(list(terms)))
            )
        }
        # Exactly the approved sales are charged (one sale_charges row each, its primary key),
        # and by the request that was approved.
        assert charged.keys() == approved.keys()
        for sale_id, row in charged.items():
            assert row.request_event_id == approved[sale_id]["request_event_id"]
        for number, term in terms.items():
            account = await repository.find_account(conn, number)
            assert account is not None
            posted = await repository.account_entries(conn, number)
            mine = [d for d in approved.values() if d["account_number"] == number]
            # One charge entry per approved sale, and nothing else on the account.
            assert sorted(e.reference or "" for e in posted if e.kind == "charge") == sorted(
                d["sale_id"] for d in mine
            ), number
            assert len(posted) == len(mine), number
            assert account.balance == sum((e.amount for e in posted), Decimal(0)), number
            assert account.balance == sum((Decimal(d["amount"]) for d in mine), Decimal(0))
            if term.restrict:
                assert account.balance <= term.limit, (number, account.balance, term.limit)
            # Each approval saw the one before it: no two approvals report the same balance.
            balances = [d["balance"] for d in mine]
            assert len(set(balances)) == len(balances), (number, sorted(balances))
    return final


# Tests ---------------------------------------------------------------------------------


async def test_twenty_concurrent_authorizations_never_take_a_restricted_account_over_its_limit(
    settings: RuntimeSettings,
    postgres_url: str,
    engine: AsyncEngine,
    commands: Producer,
    replies: Replies,
) -> None:
    number = unique("ACC-")
    terms = {number: Terms(Decimal("100.00"))}
    # The account is opened by a worker of another group: Tansu numbers a group's first
    # generation 0 and aiokafka sends no LeaveGroup from generation 0, so a restart in the same
    # group would wait out the session timeout. (The deciding worker reads the command again;
    # its id is known, so that only republishes account_opened.)
    opener = settings.model_copy(update={"consumer_group_prefix": unique("opener")})
    async with running_worker(SPEC, opener, postgres_url):
        await replies.start()
        await open_accounts(settings, commands, replies, terms)
    sales = [authorize(number, "10.00") for _ in range(20)]
    # All 20 in flight at once from four producers, onto the account's one partition: sent
    # while no worker reads it (see the module's note on the embedded broker).
    async with Tills(settings, 4, one_per_partition=False) as tills:
        await tills.send(sales)
    # Batches of at most three: seven transactions or more in a row, each of which must see
    # the balance the one before it left.
    small_batches = settings.model_copy(update={"batch_size_max": 3})
    async with running_worker(SPEC, small_batches, postgres_url):
        decisions = await replies.all_decided(sales, timeout_s=20.0)

    assert sorted(len(found) for found in decisions.values()) == [1] * 20
    final = await assert_books_agree(engine, terms, decisions)
    outcomes = Counter((d["decision"], d["reason"]) for d in final)
    assert outcomes == {("approved", None): 10, ("declined", "insufficient_credit"): 10}
    assert sorted(Decimal(d["balance"]) for d in final if d["decision"] == "approved") == [
        Decimal(10 * i) for i in range(1, 11)
    ]
    assert all(d["balance"] == "100.00" for d in final if d["decision"] == "declined")
    async with engine.connect() as conn:
        account = await repository.find_account(conn, number)
    assert account is not None and account.balance == Decimal("100.00")


def sales_counted(worker: Worker, outcome: str) -> float:
    """How many sales the worker applied, or found already applied ("duplicate")."""
    labels = {"topic": POS_SALES, "outcome": outcome}
    return worker.metrics.registry.get_sample_value("tabs_messages_total", labels) or 0.0


async def wait_for_lock_waiters(engine: AsyncEngine, count: int, timeout_s: float) -> None:
    """Until `count` transactions of this database wait for a row lock."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if (waiting or 0) >= count:
            return
        assert time.monotonic() < deadline, f"{waiting} of {count} transactions wait for a lock"
        await asyncio.sleep(0.05)


async def test_two_workers_and_a_rebalance_keep_the_limit_and_one_effect_each(
    settings: RuntimeSettings,
    postgres_url: str,
    engine: AsyncEngine,
    commands: Producer,
    replies: Replies,
) -> None:
    numbers = spread_accounts(10, settings.topic_partitions)
    # 300.00 is asked of every account; limits of 100.00 to 280.00 decline some of it.
    terms = {n: Terms(Decimal(100 + 20 * i)) for i, n in enumerate(numbers)}
    sales = burst(numbers, per_account=20)
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_worker(SPEC, settings, postgres_url))
        await replies.start()
        await open_accounts(settings, commands, replies, terms)
        tills = await stack.enter_async_context(Tills(settings, 3, one_per_partition=True))
        while tills.sent < 60:
            await tills.send(sales[tills.sent : tills.sent + 10])
            await asyncio.sleep(0.05)
        # Hold every account's row: the first worker's next batch waits inside its transaction
        # while the second worker joins, so the rebalance takes partitions from a worker that is
        # in the middle of them, and the second worker's first batch waits on the same rows.
        async with engine.connect() as holder:
            await holder.execute(
                select(accounts.c.account_number)
                .where(accounts.c.account_number.in_(numbers))
                .with_for_update()
            )
            try:
                await tills.send(sales[60:100])
                await wait_for_lock_waiters(engine, 1, timeout_s=10.0)
                second = await stack.enter_async_context(
                    running_worker(SPEC, settings, postgres_url)
                )
                await wait_for_lock_waiters(engine, 2, timeout_s=10.0)
            finally:
                await holder.rollback()
        while tills.sent < len(sales):
            await tills.send(sales[tills.sent : tills.sent + 10])
            await asyncio.sleep(0.05)
        decisions = await replies.all_decided(sales, timeout_s=30.0)
        # Both took part: the rebalance really handed partitions to the second worker. And the
        # batch caught in the rebalance was applied once and then met again as a duplicate.
        assert sales_counted(first, "applied") > 0
        assert sales_counted(second, "applied") + sales_counted(second, "duplicate") > 0
        assert sales_counted(first, "duplicate") + sales_counted(second, "duplicate") > 0

    final = await assert_books_agree(engine, terms, decisions)
    outcomes = Counter(d["decision"] for d in final)
    assert outcomes["approved"] > 0 and outcomes["declined"] > 0, outcomes


# A worker in its own process -----------------------------------------------------------


def worker_environment(
    settings: RuntimeSettings, database_url: str, http_port: int
) -> dict[str, str]:
    ours = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "CREDIT_DATABASE_URL": database_url,
        "HTTP_PORT": str(http_port),
        "API_TOKENS": settings.api_tokens,
        "TABS_TOPIC_PREFIX": settings.topic_prefix,
        "TABS_CONSUMER_GROUP_PREFIX": settings.consumer_group_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
        "KAFKA_SESSION_TIMEOUT_MS": str(settings.session_timeout_ms),
        "KAFKA_HEARTBEAT_INTERVAL_MS": str(settings.heartbeat_interval_ms),
        "KAFKA_FETCH_MAX_WAIT_MS": str(settings.fetch_max_wait_ms),
        "TABS_RETRY_BACKOFF_MAX_S": str(settings.retry_backoff_max_s),
        # Small batches: more transactions, so more places for the kill to land.
        "TABS_BATCH_SIZE_MAX": "20",
    }
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_", "TABS_", "CREDIT_", "REDIS_", "HTTP_", "TOPIC_", "API_"))
    }
    return {**inherited, **ours}


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def kill(self) -> None:
        """SIGKILL to the worker's own process group (its session), then reap it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    async def ready(self, timeout_s: float = 30.0) -> None:
        url = f"http://127.0.0.1:{self.port}/health/ready"
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=0.5) as client:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"the worker exited early:\n{tail(self.log)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"not ready in {timeout_s}s:\n{tail(self.log)}")
                await asyncio.sleep(0.1)


@contextlib.contextmanager
def worker_process(
    settings: RuntimeSettings, database_url: str, log: Path
) -> Iterator[WorkerProcess]:
    """`tabs worker credit` in a session of its own; killed on exit, whatever happened."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker", "credit"],
            cwd=REPO,
            env=worker_environment(settings, database_url, port),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = WorkerProcess(process, port, log)
    try:
        yield running
    finally:
        running.kill()


async def test_worker_killed_with_sigkill_mid_burst_loses_and_doubles_nothing(
    settings: RuntimeSettings,
    postgres_url: str,
    engine: AsyncEngine,
    commands: Producer,
    replies: Replies,
    tmp_path: Path,
) -> None:
    numbers = spread_accounts(10, settings.topic_partitions)
    # 450.00 is asked of every account: the restricted ones (limits 100.00 to 380.00) decline
    # some of it; the last two are unrestricted and go over their limits.
    terms = {n: Terms(Decimal(100 + 40 * i), restrict=i < 8) for i, n in enumerate(numbers)}
    sales = burst(numbers, per_account=30)

    with worker_process(settings, postgres_url, tmp_path / "worker-1.log") as doomed:
        await doomed.ready()
        await replies.start()
        await open_accounts(settings, commands, replies, terms)
        async with Tills(settings, 3, one_per_partition=True) as tills:

            async def send_burst() -> None:
                # Paced, so that the kill comes while sales are still arriving: a worker
                # taking larger batches (the fetch linger) could decide an unpaced burst
                # whole between two looks at the replies.
                while tills.sent < len(sales):
                    await tills.send(sales[tills.sent : tills.sent + 25])
                    await asyncio.sleep(0.1)

            sending = asyncio.create_task(send_burst())
            try:
                await replies.wait_for(
                    lambda: len(replies.decided(sales)) >= len(sales) // 3,
                    20.0,
                    lambda: f"no progress:\n{tail(doomed.log)}",
                )
                doomed.kill()
                decided_at_kill = len(replies.decided(sales))
            finally:
                await asyncio.wait_for(sending, timeout=30.0)
    assert doomed.process.returncode == -signal.SIGKILL
    assert decided_at_kill < len(sales), "the kill came after the burst was decided"

    with worker_process(settings, postgres_url, tmp_path / "worker-2.log") as successor:
        await successor.ready()
        decisions = await replies.all_decided(sales, timeout_s=30.0, log=successor.log)
        # What the kill left committed but unpublished was consumed again and its stored
        # replies published: every sale has its decision (all_decided above).
        final = await assert_books_agree(engine, terms, decisions)

    outcomes = Counter(d["decision"] for d in final)
    assert outcomes["approved"] > 0 and outcomes["declined"] > 0, outcomes
    assert any(d["over_limit"] for d in final), "no unrestricted account went over its limit"
    async with engine.connect() as conn:
        applied = await conn.scalar(
            select(func.count())
            .select_from(runtime.processed)
            .where(runtime.processed.c.source == POS_SALES)
        )
        charges = await conn.scalar(
            select(func.count())
            .select_from(entries)
            .where(entries.c.account_number.in_(numbers), entries.c.kind == "charge")
        )
    assert applied == len(sales)
    assert charges == outcomes["approved"]
