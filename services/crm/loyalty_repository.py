"""Loading and saving purchases, returns, points lots and redemptions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.crm.domain.points import Lot, Take
from services.crm.domain.purchases import Purchase
from services.crm.repository import aware
from services.crm.tables import (
    customer_returns,
    customer_sales,
    points_lots,
    points_redemptions,
    voided_sales,
)
from shared.money import from_minor, to_minor


def _purchase(row: Row[tuple[object, ...]]) -> Purchase:
    m = row._mapping
    occurred_at = aware(m["occurred_at"])
    assert occurred_at is not None
    return Purchase(
        sale_id=m["sale_id"],
        customer_id=m["customer_id"],
        amount=from_minor(m["amount"]),
        currency=m["currency"],
        occurred_at=occurred_at,
        points_earned=m["points_earned"],
        points_redeemed=m["points_redeemed"],
        earned_reversed=m["earned_reversed"],
        redeemed_restored=m["redeemed_restored"],
        returned_amount=from_minor(m["returned_amount"]),
        voided_at=aware(m["voided_at"]),
    )


def _purchase_values(p: Purchase) -> dict[str, object]:
    return {
        "customer_id": p.customer_id,
        "amount": to_minor(p.amount),
        "currency": p.currency,
        "occurred_at": p.occurred_at,
        "points_earned": p.points_earned,
        "points_redeemed": p.points_redeemed,
        "earned_reversed": p.earned_reversed,
        "redeemed_restored": p.redeemed_restored,
        "returned_amount": to_minor(p.returned_amount),
        "voided_at": p.voided_at,
    }


async def load_purchases(conn: AsyncConnection, sale_ids: Iterable[str]) -> dict[str, Purchase]:
    """Locked, in key order: a void and a return of one sale on two workers take turns."""
    wanted = sorted(set(sale_ids))
    if not wanted:
        return {}
    query = (
        select(customer_sales)
        .where(customer_sales.c.sale_id.in_(wanted))
        .order_by(customer_sales.c.sale_id)
        .with_for_update()
    )
    return {row.sale_id: _purchase(row) for row in await conn.execute(query)}


async def save_purchases(
    conn: AsyncConnection, new: Sequence[Purchase], changed: Sequence[Purchase]
) -> None:
    if new:
        await conn.execute(
            insert(customer_sales), [{"sale_id": p.sale_id, **_purchase_values(p)} for p in new]
        )
    if changed:
        names = list(_purchase_values(changed[0]))
        statement = (
            update(customer_sales)
            .where(customer_sales.c.sale_id == bindparam("sid"))
            .values({name: bindparam(name) for name in names})
        )
        await conn.execute(statement, [{"sid": p.sale_id, **_purchase_values(p)} for p in changed])


async def latest_purchase(
    conn: AsyncConnection, customer_id: str, excluding: Iterable[str]
) -> datetime | None:
    """The latest purchase of the customer still standing, leaving out `excluding`."""
    query = select(func.max(customer_sales.c.occurred_at)).where(
        customer_sales.c.customer_id == customer_id, customer_sales.c.voided_at.is_(None)
    )
    skipped = list(excluding)
    if skipped:
        query = query.where(customer_sales.c.sale_id.not_in(skipped))
    return aware((await conn.execute(query)).scalar())


async def rolling_spend(
    conn: AsyncConnection, customer_ids: Iterable[str], since: datetime
) -> dict[str, Decimal]:
    """Spend on purchases from `since` on, net of returns, voided sales left out."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    t = customer_sales.c
    rows = await conn.execute(
        select(t.customer_id, func.sum(t.amount - t.returned_amount).label("spend"))
        .where(t.customer_id.in_(wanted), t.occurred_at >= since, t.voided_at.is_(None))
        .group_by(t.customer_id)
    )
    return {row.customer_id: from_minor(int(row.spend)) for row in rows}


async def seen_returns(conn: AsyncConnection, return_ids: Iterable[str]) -> set[str]:
    wanted = list(set(return_ids))
    if not wanted:
        return set()
    rows = await conn.execute(
        select(customer_returns.c.return_sale_id).where(
            customer_returns.c.return_sale_id.in_(wanted)
        )
    )
    return {row.return_sale_id for row in rows}


async def insert_returns(conn: AsyncConnection, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        await conn.execute(insert(customer_returns), list(rows))


async def voided_before_completion(conn: AsyncConnection, sale_ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(sale_ids))
    if not wanted:
        return set()
    rows = await conn.execute(
        select(voided_sales.c.sale_id).where(voided_sales.c.sale_id.in_(wanted))
    )
    return {row.sale_id for row in rows}


async def insert_early_voids(conn: AsyncConnection, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        await conn.execute(insert(voided_sales), list(rows))


def _lot(row: Row[tuple[object, ...]]) -> Lot:
    m = row._mapping
    earned_at, expires_at = aware(m["earned_at"]), aware(m["expires_at"])
    assert earned_at is not None and expires_at is not None
    return Lot(m["lot_id"], earned_at, expires_at, m["points"], m["remaining"])


async def load_lots(
    conn: AsyncConnection, customer_ids: Iterable[str], also: Iterable[str] = ()
) -> dict[str, dict[str, Lot]]:
    """Each customer's lots that still hold points, and the lots named in `also` (a sale's own
    lot, lots a redemption took from) whatever they hold. Locked, in key order."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    t = points_lots.c
    named = sorted(set(also))
    condition = t.remaining > 0 if not named else or_(t.remaining > 0, t.lot_id.in_(named))
    rows = await conn.execute(
        select(points_lots)
        .where(and_(t.customer_id.in_(wanted), condition))
        .order_by(t.lot_id)
        .with_for_update()
    )
    found: dict[str, dict[str, Lot]] = {c: {} for c in wanted}
    for row in rows:
        found[row.customer_id][row.lot_id] = _lot(row)
    return found


async def save_lots(
    conn: AsyncConnection, new: Sequence[tuple[str, Lot]], changed: Sequence[Lot]
) -> None:
    if new:
        await conn.execute(
            insert(points_lots),
            [
                {
                    "lot_id": lot.lot_id,
                    "customer_id": customer_id,
                    "earned_at": lot.earned_at,
                    "expires_at": lot.expires_at,
                    "points": lot.points,
                    "remaining": lot.remaining,
                }
                for customer_id, lot in new
            ],
        )
    if changed:
        statement = (
            update(points_lots)
            .where(points_lots.c.lot_id == bindparam("lid"))
            .values(remaining=bindparam("left"))
        )
        await conn.execute(
            statement, [{"lid": lot.lot_id, "left": lot.remaining} for lot in changed]
        )


async def load_takes(conn: AsyncConnection, sale_ids: Iterable[str]) -> dict[str, list[Take]]:
    wanted = sorted(set(sale_ids))
    if not wanted:
        return {}
    t = points_redemptions.c
    rows = await conn.execute(
        select(points_redemptions).where(t.sale_id.in_(wanted)).order_by(t.sale_id, t.lot_id)
    )
    found: dict[str, list[Take]] = {}
    for row in rows:
        found.setdefault(row.sale_id, []).append(Take(row.lot_id, row.points, row.restored))
    return found


async def save_takes(
    conn: AsyncConnection,
    new: Sequence[tuple[str, str, Take]],
    changed: Sequence[tuple[str, Take]],
) -> None:
    if new:
        await conn.execute(
            insert(points_redemptions),
            [
                {
                    "sale_id": sale_id,
                    "lot_id": take.lot_id,
                    "customer_id": customer_id,
                    "points": take.points,
                    "restored": take.restored,
                }
                for sale_id, customer_id, take in new
            ],
        )
    if changed:
        t = points_redemptions.c
        statement = (
            update(points_redemptions)
            .where(t.sale_id == bindparam("sid"), t.lot_id == bindparam("lid"))
            .values(restored=bindparam("back"))
        )
        await conn.execute(
            statement,
            [{"sid": sid, "lid": take.lot_id, "back": take.restored} for sid, take in changed],
        )


async def points_balances(conn: AsyncConnection, customer_ids: Iterable[str]) -> dict[str, int]:
    """The points left in each customer's lots (debt not taken off)."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    t = points_lots.c
    rows = await conn.execute(
        select(t.customer_id, func.sum(t.remaining).label("left"))
        .where(t.customer_id.in_(wanted), t.remaining > 0)
        .group_by(t.customer_id)
    )
    return {row.customer_id: int(row.left) for row in rows}


async def customers_with_expired_lots(
    conn: AsyncConnection, now: datetime, limit: int
) -> list[str]:
    t = points_lots.c
    rows = await conn.execute(
        select(t.customer_id)
        .where(t.expires_at <= now, t.remaining > 0)
        .group_by(t.customer_id)
        .order_by(t.customer_id)
        .limit(limit)
    )
    return [row.customer_id for row in rows]
