"""The credit service's tables. Money is integer ten-thousandths: exact on every database.

The ledger's rows (entries, open items, sale charges) refer to accounts and entries without
foreign keys: a key's trigger per row cost two thirds of PostgreSQL's CPU per sale. Their one
writer makes them together under the account's row lock (migration 0006)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    text,
)

from services.common.runtime_tables import Id, add_runtime_tables

metadata = MetaData()
runtime = add_runtime_tables(metadata)

accounts = Table(
    "accounts",
    metadata,
    Column("account_number", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("credit_limit", BigInteger, nullable=False),
    Column("restrict_credit", Boolean, nullable=False),
    Column("credit_period_days", Integer, nullable=False),
    Column("settlement_every", Integer, nullable=False),
    Column("settlement_unit", String(8), nullable=False),
    Column("settlement_anchor", Date, nullable=False),
    Column("statement_email", String(320), nullable=False),
    Column("customer_id", String(200), nullable=True),
    Column("credit_rating", String(32), nullable=True),
    Column("overdue_hold_days", Integer, nullable=True),
    Column("balance", BigInteger, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    # {"max_over_limit": minor units, "stores"|"terminals"|"roles": [...] or null}
    Column("override_rules", JSON, nullable=True),
    Column("parent_account_number", String(64), nullable=True, index=True),
    # "full", or the list of funded categories.
    Column("funding", JSON, nullable=True),
    # One more with every write of the row (so with every change to the account's ledger): the
    # order of the account's views in the read model (migration 0008).
    Column("version", BigInteger, nullable=False, server_default=text("0")),
    # Room in each page, so that a balance update stays on its page (migration 0005).
    postgresql_with={"fillfactor": 80},
)

entries = Table(
    "entries",
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
    Column("override_code", String(200), nullable=True),
    Column("override_by", String(200), nullable=True),
    Column("member_account_number", String(64), nullable=True),
)

# One charge per sale: the primary key makes a second charge of a sale_id impossible.
sale_charges = Table(
    "sale_charges",
    metadata,
    Column("sale_id", String(200), primary_key=True),
    Column("account_number", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("entry_id", String(200), nullable=False),
    Column("request_event_id", String(200), nullable=False),
    Column("charged_at", DateTime(timezone=True), nullable=False),
    # Set when the sale is voided: a second void finds nothing to reverse.
    Column("reversed_at", DateTime(timezone=True), nullable=True),
)

# What is still owed on each debit (positive) or still unused of each credit (negative).
open_items = Table(
    "open_items",
    metadata,
    Column("item_id", String(200), primary_key=True),
    # Indexed only where open (the partial indexes below): every query asks for open items.
    Column("account_number", String(64), nullable=False),
    Column("reference", String(200), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("open_amount", BigInteger, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False),
)

# A charge reads only an account's unused credits; the overdue hold, its oldest open debit.
Index(
    "ix_open_items_open_credits",
    open_items.c.account_number,
    postgresql_where=open_items.c.open_amount < 0,
    sqlite_where=open_items.c.open_amount < 0,
)
Index(
    "ix_open_items_open_debits",
    open_items.c.account_number,
    open_items.c.due_date,
    postgresql_where=open_items.c.open_amount > 0,
    sqlite_where=open_items.c.open_amount > 0,
)

# Which credit settled how much of which item: the audit trail behind every open amount.
settlements = Table(
    "settlements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("credit_id", String(200), nullable=False, index=True),
    Column("item_id", String(200), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
)
