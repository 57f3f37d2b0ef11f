"""Alembic, run at a worker's start on the worker's own connection (one lock, one place)."""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def alembic_config(script_location: Path, version_table: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["version_table"] = version_table
    return config


async def upgrade_to_head(engine: AsyncEngine, script_location: Path, version_table: str) -> None:
    """Creates or upgrades the service's tables; replicas starting together take turns."""
    config = alembic_config(script_location, version_table)

    def upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            lock_id = zlib.crc32(version_table.encode())
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as conn:
        await conn.run_sync(upgrade)


def run_migrations(target_metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    connection = context.config.attributes.get("connection")
    version_table = context.config.attributes.get("version_table", "alembic_version")
    if connection is None:
        # Offline mode (`alembic upgrade --sql`) would need a URL; workers always pass one.
        raise RuntimeError("run migrations through services.common.migrations.upgrade_to_head")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
