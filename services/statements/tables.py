"""The statements service's own store, built from accounts.events.v1 (it shares no database)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table

from services.common.runtime_tables import add_runtime_tables

metadata = MetaData()
runtime = add_runtime_tables(metadata)

statement_accounts = Table(
    "statement_accounts",
    metadata,
    Column("account_number", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("credit_period_days", Integer, nullable=False),
    Column("settlement_every", Integer, nullable=False),
    Column("settlement_unit", String(8), nullable=False),
    Column("settlement_anchor", Date, nullable=False),
    Column("statement_email", String(320), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
)

statement_entries = Table(
    "statement_entries",
    metadata,
    Column("entry_id", String(200), primary_key=True),
    Column("account_number", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("reference", String(200), nullable=True),
    Column("due_date", Date, nullable=True),
    Column("posted_at", DateTime(timezone=True), nullable=False),
    Column("forced", Boolean, nullable=False),
)
