"""The statements service's own store, built from accounts.events.v1 (it shares no database),
and the statements it made. Money is stored as integer ten-thousandths (shared.money)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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
    # The scheduler's cursor: the next period to state. Null until the scheduler first sees the
    # account (accounts stored before the cursor existed).
    Column("next_period_start", Date, nullable=True),
    Column("next_period_end", Date, nullable=True, index=True),
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
    # Arrival order within the account, which is ledger order: an account's events share a
    # partition, and entries posted in one batch share a posting time.
    Column("position", BigInteger, nullable=False, server_default="0"),
    Column("member_account_number", String(64), nullable=True),
)

statements = Table(
    "statements",
    metadata,
    Column("statement_id", String(200), primary_key=True),
    Column("account_number", String(64), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("opening_balance", BigInteger, nullable=False),
    Column("closing_balance", BigInteger, nullable=False),
    Column("amount_due", BigInteger, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("aging_current", BigInteger, nullable=False),
    Column("aging_1_30", BigInteger, nullable=False),
    Column("aging_31_60", BigInteger, nullable=False),
    Column("aging_61_90", BigInteger, nullable=False),
    Column("aging_over_90", BigInteger, nullable=False),
    # The document as made, so that every attempt sends the same bytes.
    Column("subject", String(998), nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("message_id", String(300), nullable=False),
    Column("origin", String(16), nullable=False),
    # Delivery: see services/statements/domain/delivery.py for the states.
    Column("status", String(16), nullable=False),
    # Each time delivery is asked for (by the schedule, or again by a request) is a round;
    # a round ends in one published outcome.
    Column("delivery_round", Integer, nullable=False),
    Column("announce_round", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("sending_until", DateTime(timezone=True), nullable=True),
    Column("delivered_to", String(320), nullable=True),
    Column("detail", String(2000), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    # One statement per account per period, however many workers and restarts.
    UniqueConstraint("account_number", "period_end", name="uq_statements_account_period"),
    Index("ix_statements_status_next_attempt", "status", "next_attempt_at"),
)

statement_requests = Table(
    "statement_requests",
    metadata,
    # A request with deliver: true, waiting for the outcome of a delivery round.
    Column("request_event_id", String(200), primary_key=True),
    Column("statement_id", String(200), nullable=False, index=True),
    Column("delivery_round", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
)
