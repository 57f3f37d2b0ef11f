"""The tables every service has: the messages it has applied (an inbox) and its outbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT for an outbox.
Id = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class RuntimeTables:
    processed: Table
    outbox: Table


def add_runtime_tables(metadata: MetaData) -> RuntimeTables:
    processed = Table(
        "processed_messages",
        metadata,
        # The source topic and the client's id: the contract makes ids unique per topic.
        Column("source", String(200), primary_key=True),
        Column("message_id", String(200), primary_key=True),
        # The replies it produced, published again when the same id comes back.
        Column("replies", LargeBinary, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    outbox = Table(
        "outbox",
        metadata,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=True),
        Column("value", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    )
    return RuntimeTables(processed=processed, outbox=outbox)
