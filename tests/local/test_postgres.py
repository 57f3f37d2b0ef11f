"""The embedded PostgreSQL 18, over real asyncpg connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import psutil
import pytest

from services.local.postgres import EmbeddedPostgres


async def test_real_server_and_created_database(
    tmp_path: Path, assert_stopped: Callable[[int | None, int], None]
) -> None:
    postgres = EmbeddedPostgres(tmp_path, durable=False)
    postgres.start()
    try:
        assert postgres.url == f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres"
        connection = await asyncpg.connect(postgres.url)
        try:
            assert (await connection.fetchval("select version()")).startswith("PostgreSQL 18.")
            assert await connection.fetchval("show max_connections") == "200"
            assert await connection.fetchval("show fsync") == "off"
        finally:
            await connection.close()

        url = await asyncio.to_thread(postgres.create_database, "tabs_test")
        assert await asyncio.to_thread(postgres.create_database, "tabs_test") == url  # idempotent
        assert url.endswith(f":{postgres.port}/tabs_test")
        connection = await asyncpg.connect(url)
        try:
            await connection.execute("create table ledger (id int primary key, amount numeric)")
            await connection.execute("insert into ledger values (1, 12.50)")
            assert str(await connection.fetchval("select amount from ledger")) == "12.50"
        finally:
            await connection.close()
        # The postmaster's children (checkpointer, walwriter, ...) must go with it.
        assert postgres.pid is not None
        children = psutil.Process(postgres.pid).children(recursive=True)
        assert children
    finally:
        pid, port = postgres.pid, postgres.port
        postgres.stop()
    assert_stopped(pid, port)
    assert not any(child.is_running() for child in children)


async def test_restart_on_the_same_data_dir_keeps_the_data(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path) as first:
        url = await asyncio.to_thread(first.create_database, "kept")
        connection = await asyncpg.connect(url)
        try:
            await connection.execute("create table accounts (name text)")
            await connection.execute("insert into accounts values ('Aroha')")
        finally:
            await connection.close()
    initdb_log = (tmp_path / "initdb.log").stat().st_mtime_ns

    with EmbeddedPostgres(tmp_path) as second:
        connection = await asyncpg.connect(second.database_url("kept"))
        try:
            assert await connection.fetchval("select name from accounts") == "Aroha"
        finally:
            await connection.close()
    assert (tmp_path / "initdb.log").stat().st_mtime_ns == initdb_log  # no second initdb


def test_database_names_that_would_need_quoting_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must match"):
        EmbeddedPostgres(tmp_path).create_database('x"; drop database postgres; --')
