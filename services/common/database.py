"""Database URLs and engines: a plain `postgresql://` or `sqlite:///` URL picks its driver."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str) -> str:
    """The SQLAlchemy URL with an async driver; an explicit driver is kept as given."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "postgres", "sqlite"):
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: "
            "use postgresql:// or sqlite:///"
        )
    if "+" in parsed.drivername:
        return parsed.render_as_string(hide_password=False)
    return parsed.set(drivername=_ASYNC_DRIVERS[parsed.drivername]).render_as_string(
        hide_password=False
    )


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """An engine with explicit pool and timeout settings for one worker."""
    target = async_url(url)
    if target.startswith("sqlite"):
        engine = create_async_engine(target, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        target,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip per transaction, one per batch. A connection the
        # server dropped fails its statement instead; SQLAlchemy invalidates it and the pool,
        # and the pipeline retries the batch as an outage.
        pool_pre_ping=False,
        pool_timeout=30,
        connect_args={
            "command_timeout": 60,
            "server_settings": {
                "application_name": "tabs",
                # Plan each statement for its own arrays and the tables' size now. A generic plan
                # made while a table was small scans it whole for ever after: a look-up of 500
                # sale ids took 15 ms against 80,000 charges (pg_stat_statements, tabs bench).
                "plan_cache_mode": "force_custom_plan",
            },
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the HTTP look-ups read while the consumer writes; the busy timeout makes a second
    # writer wait instead of failing; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def mask_url(url: str) -> str:
    """The URL with its password hidden, for logs."""
    return make_url(url).render_as_string(hide_password=True)
