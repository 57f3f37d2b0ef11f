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


# Plan each statement for its own arrays and the tables' size now. A generic plan made while a
# table was small scans it whole for ever after: a look-up of 500 sale ids took 15 ms against
# 80,000 charges (pg_stat_statements, tabs bench).
_CUSTOM_PLANS = {"plan_cache_mode": "force_custom_plan"}
# For statements that only look rows up and write them by key (the unlocked path's two): planned
# once per connection instead of at every batch (0.3-0.6 ms of PostgreSQL's CPU a statement,
# a fifth of its CPU at a steady 2,000 sales/s), and with sequential scans priced out of the
# generic plan, so that a plan made while a table was small still uses its index once the
# table is large (tests/common/test_database.py).
_GENERIC_PLANS = {"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off"}


def create_engine(url: str, *, pool_size: int = 5, key_lookups_only: bool = False) -> AsyncEngine:
    """An engine with explicit pool and timeout settings for one worker. With
    `key_lookups_only`, for statements that find and write rows by key alone, PostgreSQL plans
    each statement once per connection (`_GENERIC_PLANS`)."""
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
                **(_GENERIC_PLANS if key_lookups_only else _CUSTOM_PLANS),
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
