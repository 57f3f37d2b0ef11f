"""The CRM service's tables. Money is integer ten-thousandths: exact on every database."""

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
    Text,
    func,
)
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
    Column("tier", String(200), nullable=True),
    # Points taken back after they were spent; paid from the next points earned.
    Column("points_debt", BigInteger, nullable=False, server_default="0"),
)
# Mailchimp's webhooks name a member by address, compared ignoring case.
Index("ix_customers_email_lower", func.lower(customers.c.email))

# One row per completed sale counted, so a sale adds to a customer's spend once.
customer_sales = _Table(
    "customer_sales",
    metadata,
    Column("sale_id", String(200), primary_key=True),
    Column("customer_id", String(200), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    # What the sale moved in points, and what voids and returns have moved back since: a
    # reversal never moves more than the sale did.
    Column("points_earned", BigInteger, nullable=False, server_default="0"),
    Column("points_redeemed", BigInteger, nullable=False, server_default="0"),
    Column("earned_reversed", BigInteger, nullable=False, server_default="0"),
    Column("redeemed_restored", BigInteger, nullable=False, server_default="0"),
    Column("returned_amount", BigInteger, nullable=False, server_default="0"),
    Column("voided_at", DateTime(timezone=True), nullable=True),
)

# A void that arrived before its sale was completed: keyed by sale_id, a void without a customer
# may travel on another partition than the completed sale, and Kafka orders nothing across
# partitions. The completion that comes later counts nothing.
voided_sales = _Table(
    "voided_sales",
    metadata,
    Column("sale_id", String(200), primary_key=True),
    Column("voided_at", DateTime(timezone=True), nullable=False),
)

# One row per return, so a till resending a return under a new event id refunds it once.
customer_returns = _Table(
    "customer_returns",
    metadata,
    Column("return_sale_id", String(200), primary_key=True),
    Column("original_sale_id", String(200), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)

# A lot per earning sale (lot_id is the sale's id). Balance = sum(remaining) - points_debt.
points_lots = _Table(
    "points_lots",
    metadata,
    Column("lot_id", String(200), primary_key=True),
    Column("customer_id", String(200), nullable=False),
    Column("earned_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Index("ix_points_lots_customer_expires", "customer_id", "expires_at"),
    Index("ix_points_lots_expires_remaining", "expires_at", "remaining"),
)

# Which lots a redemption took its points from, so a void puts them back where they were.
points_redemptions = _Table(
    "points_redemptions",
    metadata,
    Column("sale_id", String(200), primary_key=True),
    Column("lot_id", String(200), primary_key=True),
    Column("customer_id", String(200), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("restored", BigInteger, nullable=False),
)

# The durable queue of customers to sync to Mailchimp, written in the transaction of the change.
# One row per customer: changes that arrive before the sync coalesce into it. `version` counts
# them, so a sync that raced a newer change leaves the row for another pass.
mailchimp_sync_queue = _Table(
    "mailchimp_sync_queue",
    metadata,
    Column("customer_id", String(200), primary_key=True),
    Column("version", Integer, nullable=False),
    # The customer opted in since the last sync: send `status`, not only `status_if_new`.
    Column("resubscribe", Boolean, nullable=False),
    Column("enqueued_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    # The sync loop's own (wall-clock) times: retry backoff and a worker's lease on the row.
    Column("next_attempt_at", DateTime(timezone=True), nullable=True, index=True),
    Column("leased_until", DateTime(timezone=True), nullable=True),
    Column("lease_owner", String(200), nullable=True),
    Column("last_error", Text, nullable=True),
)

# What the CRM knows the audience holds for each customer, and how the last sync went.
mailchimp_members = _Table(
    "mailchimp_members",
    metadata,
    Column("customer_id", String(200), primary_key=True),
    Column("email", String(254), nullable=True),
    Column("subscriber_hash", String(32), nullable=True, index=True),
    Column("status", String(20), nullable=True),
    Column("status_source", String(20), nullable=True),
    Column("tags", JSON, nullable=False),
    # synced | failed (a permanent error, shown until a new change syncs)
    Column("state", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("synced_at", DateTime(timezone=True), nullable=True),
    Column("attempted_at", DateTime(timezone=True), nullable=True),
)
