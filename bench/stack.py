"""The parts a run needs on this machine: the broker, the databases, and maybe Redis."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil
from sqlalchemy.engine import make_url

from services.local.broker import EmbeddedBroker
from services.local.postgres import EmbeddedPostgres
from services.local.redis import EmbeddedRedis

DATABASES = ("credit", "naive", "crm", "audience", "statements")


@dataclass(frozen=True)
class Stack:
    """Where everything is. `server_url` is a PostgreSQL server to create databases on (None
    for SQLite); `database_pid` is None when the database is not a process we can watch."""

    work_dir: Path
    bootstrap: str
    broker_pid: int
    server_url: str | None
    database_pid: int | None
    redis_url: str | None


class LocalStack(contextlib.ExitStack):
    """Starts what the run asks for; leaving the block stops all of it."""

    def __init__(
        self, work_dir: Path, *, server_url: str | None, sqlite: bool, redis: bool
    ) -> None:
        super().__init__()
        self._work_dir = work_dir
        self._server_url = server_url
        self._sqlite = sqlite
        self._redis = redis

    def start(self) -> Stack:
        broker = self.enter_context(EmbeddedBroker(self._work_dir / "kafka"))
        assert broker.pid is not None
        redis_url = None
        if self._redis:
            redis_url = self.enter_context(EmbeddedRedis(self._work_dir / "redis")).url
        server_url = self._server_url
        database_pid = None
        if self._sqlite:
            server_url = None
        elif server_url is None:
            # Durable, as in production: fsync on, synchronous commits.
            postgres = self.enter_context(EmbeddedPostgres(self._work_dir / "postgres"))
            server_url, database_pid = postgres.url, postgres.pid
        else:
            database_pid = local_server_pid(server_url)
        return Stack(
            self._work_dir,
            broker.bootstrap_servers,
            broker.pid,
            server_url,
            database_pid,
            redis_url,
        )


def local_server_pid(server_url: str) -> int | None:
    """The process listening on the URL's port, when the server runs on this machine."""
    url = make_url(server_url)
    if url.host not in ("127.0.0.1", "localhost", "::1"):
        return None
    port = url.port or 5432
    with contextlib.suppress(psutil.AccessDenied):
        for connection in psutil.net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
                pid: int | None = connection.pid
                return pid
    return None


async def create_databases(stack: Stack, run_id: str) -> dict[str, str]:
    """A new database per part of the run (credit worker, naive handler, CRM worker for loyalty
    and for Mailchimp, statements worker)."""
    if stack.server_url is None:
        return {name: f"sqlite:///{stack.work_dir / name}.db" for name in DATABASES}
    plain = stack.server_url.replace("postgresql+asyncpg://", "postgresql://")
    base, _, _ = plain.rpartition("/")
    connection = await asyncpg.connect(plain)
    urls = {}
    try:
        for name in DATABASES:
            database = f"bench_{run_id}_{name}"
            await connection.execute(f'CREATE DATABASE "{database}"')
            urls[name] = f"{base}/{database}"
    finally:
        await connection.close()
    return urls


async def drop_databases(stack: Stack, urls: dict[str, str]) -> None:
    """Drops the run's databases: for a server that outlives the run."""
    if stack.server_url is None:
        return
    plain = stack.server_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        for url in urls.values():
            name = make_url(url).database
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
