"""The CRM service's tables. Money is integer ten-thousandths: exact on every database."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String
from sqlalchemy import Table as _Table

from services.common.runtime_tables import add_runtime_tables

metadata = MetaData()
runtime = add_runtime_tables(metadata)

customers = _Table(
    "customers",
    metadata,
    Column("customer_id", String(200), primary_key=True),
    Column("email", String(254), nullable=True),
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("mobile", String(200), nullable=True),
    Column("birthday", Date, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("marketing_opt_in", Boolean, nullable=True),
    Column("opt_in_source", String(200), nullable=True),
    Column("account_number", String(200), nullable=True),
    Column("lifetime_spend", BigInteger, nullable=False),
    Column("visits", Integer, nullable=False),
    Column("last_purchase_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per completed sale counted, so a sale adds to a customer's spend once.
customer_sales = _Table(
    "customer_sales",
    metadata,
    Column("sale_id", String(200), primary_key=True),
    Column("customer_id", String(200), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)
