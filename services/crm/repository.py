"""Loading and saving CRM customers: the only SQL of the CRM service."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.crm.domain.customers import Customer
from services.crm.tables import customers
from shared.money import from_minor, to_minor


def aware(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every time stored is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _customer(row: Row[tuple[object, ...]]) -> Customer:
    m = row._mapping
    updated_at = aware(m["updated_at"])
    assert updated_at is not None
    return Customer(
        customer_id=m["customer_id"],
        updated_at=updated_at,
        email=m["email"],
        first_name=m["first_name"],
        last_name=m["last_name"],
        mobile=m["mobile"],
        birthday=m["birthday"],
        tags=tuple(m["tags"]),
        marketing_opt_in=m["marketing_opt_in"],
        opt_in_source=m["opt_in_source"],
        account_number=m["account_number"],
        lifetime_spend=from_minor(m["lifetime_spend"]),
        visits=m["visits"],
        last_purchase_at=aware(m["last_purchase_at"]),
        tier=m["tier"],
        points_debt=m["points_debt"],
    )


def _values(customer: Customer) -> dict[str, object]:
    return {
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "mobile": customer.mobile,
        "birthday": customer.birthday,
        "tags": list(customer.tags),
        "marketing_opt_in": customer.marketing_opt_in,
        "opt_in_source": customer.opt_in_source,
        "account_number": customer.account_number,
        "lifetime_spend": to_minor(customer.lifetime_spend),
        "visits": customer.visits,
        "last_purchase_at": customer.last_purchase_at,
        "updated_at": customer.updated_at,
        "tier": customer.tier,
        "points_debt": customer.points_debt,
    }


async def load_customers(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, Customer]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = (
        select(customers)
        .where(customers.c.customer_id.in_(wanted))
        .order_by(customers.c.customer_id)
        .with_for_update()
    )
    return {row.customer_id: _customer(row) for row in await conn.execute(query)}


async def save_customers(
    conn: AsyncConnection, new: Sequence[Customer], changed: Sequence[Customer]
) -> None:
    if new:
        await conn.execute(
            insert(customers), [{"customer_id": c.customer_id, **_values(c)} for c in new]
        )
    if changed:
        names = list(_values(changed[0]))
        statement = (
            update(customers)
            .where(customers.c.customer_id == bindparam("cid"))
            .values({name: bindparam(name) for name in names})
        )
        await conn.execute(statement, [{"cid": c.customer_id, **_values(c)} for c in changed])


async def find_customers(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, Customer]:
    """Customers as committed, without locking them (for views and the sync loop)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await conn.execute(select(customers).where(customers.c.customer_id.in_(wanted)))
    return {row.customer_id: _customer(row) for row in rows}


async def find_customer(conn: AsyncConnection, customer_id: str) -> Customer | None:
    return (await find_customers(conn, [customer_id])).get(customer_id)


async def customer_ids_with_email(conn: AsyncConnection, email: str) -> list[str]:
    """Customers whose address is `email`, compared as Mailchimp compares: ignoring case."""
    rows = await conn.execute(
        select(customers.c.customer_id)
        .where(func.lower(customers.c.email) == email.lower())
        .order_by(customers.c.customer_id)
    )
    return [row.customer_id for row in rows]


async def all_customer_ids(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(select(customers.c.customer_id).order_by(customers.c.customer_id))
    return [row.customer_id for row in rows]


async def customers_above(
    conn: AsyncConnection, base_tier: str, after: str, limit: int
) -> list[str]:
    """Customers holding a tier above the base one, by id after `after` (a cursor)."""
    t = customers.c
    rows = await conn.execute(
        select(t.customer_id)
        .where(t.tier.is_not(None), t.tier != base_tier, t.customer_id > after)
        .order_by(t.customer_id)
        .limit(limit)
    )
    return [row.customer_id for row in rows]
