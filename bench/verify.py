"""The end-of-run check: what the tills were told agrees with the ledger, and the ledger holds.

A run that fails any check is a failed run, however fast it was.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.loadgen import Received
from services.credit.repository import dangling_references
from services.credit.tables import accounts, entries, sale_charges

SHOWN_MAX = 5


@dataclass
class Verification:
    checks: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(self.checks.values())

    def check(self, name: str, wrong: list[str]) -> None:
        self.checks[name] = not wrong
        self.problems += [f"{name}: {w}" for w in wrong[:SHOWN_MAX]]
        if len(wrong) > SHOWN_MAX:
            self.problems.append(f"{name}: ... and {len(wrong) - SHOWN_MAX} more")


def _decisions(
    requested: Iterable[str], received: Iterable[Received], result: Verification
) -> dict[str, dict[str, Any]]:
    """One decision per request: at least one, and every copy of it identical."""
    values: dict[str, set[bytes]] = defaultdict(set)
    for r in received:
        values[r.request_event_id].add(r.value)
    wanted = set(requested)
    result.check(
        "every request has a decision", [f"{e} has none" for e in sorted(wanted - values.keys())]
    )
    result.check(
        "no decision without a request",
        [f"decision for unknown {e}" for e in sorted(values.keys() - wanted)],
    )
    result.check(
        "all decisions for a request are identical",
        [f"{e} got {len(v)} different decisions" for e, v in values.items() if len(v) > 1],
    )
    return {e: orjson.loads(min(v)) for e, v in values.items()}


async def verify(
    engine: AsyncEngine, requested: Iterable[str], received: Iterable[Received]
) -> Verification:
    result = Verification()
    decided = _decisions(requested, received, result)
    verdicts = Counter(d["reason"] or "approved" for d in decided.values())
    result.counts = {f"decisions {k}": v for k, v in sorted(verdicts.items())}
    result.check(
        "every decline is for insufficient credit",
        [f"{k}: {v}" for k, v in verdicts.items() if k not in ("approved", "insufficient_credit")],
    )
    approved = {d["sale_id"] for d in decided.values() if d["decision"] == "approved"}
    async with engine.connect() as conn:
        charged = set((await conn.scalars(select(sale_charges.c.sale_id))).all())
        per_sale = (
            await conn.execute(
                select(entries.c.kind, entries.c.reference, func.count())
                .where(entries.c.kind.in_(["charge", "charge_reversal"]))
                .group_by(entries.c.kind, entries.c.reference)
            )
        ).all()
        reversed_sales = set(
            (
                await conn.scalars(
                    select(sale_charges.c.sale_id).where(sale_charges.c.reversed_at.is_not(None))
                )
            ).all()
        )
        totals = select(entries.c.account_number, func.sum(entries.c.amount).label("total"))
        sums = totals.group_by(entries.c.account_number).subquery()
        balances = (
            await conn.execute(
                select(
                    accounts.c.account_number,
                    accounts.c.balance,
                    func.coalesce(sums.c.total, 0),
                    accounts.c.restrict_credit,
                    accounts.c.credit_limit,
                ).outerjoin(sums, sums.c.account_number == accounts.c.account_number)
            )
        ).all()
        dangling = await dangling_references(conn)
    charges = {ref: n for kind, ref, n in per_sale if kind == "charge"}
    reversals = {ref: n for kind, ref, n in per_sale if kind == "charge_reversal"}
    result.counts |= {
        "accounts": len(balances),
        "sales charged": len(charged),
        "sales voided": len(reversed_sales),
    }
    result.check(
        "each approved sale is charged once",
        [f"{s} approved, not charged" for s in sorted(approved - charged)]
        + [f"{s} charged, never approved" for s in sorted(charged - approved)]
        + [f"{s} has {n} charge entries" for s, n in charges.items() if n != 1]
        + [f"{s} has no charge entry" for s in sorted(charged - charges.keys())],
    )
    result.check(
        "each void reverses its charge once",
        [f"{s} has {n} reversals" for s, n in reversals.items() if n != 1]
        + [f"{s} reversed without a mark" for s in sorted(reversals.keys() - reversed_sales)]
        + [f"{s} marked, not reversed" for s in sorted(reversed_sales - reversals.keys())],
    )
    result.check("nothing refers to a missing account or entry", dangling)
    result.check(
        "every balance is the sum of its entries",
        [f"{n}: balance {b} != entries {t}" for n, b, t, _, _ in balances if b != t],
    )
    result.check(
        "no restricted account is over its limit",
        [f"{n}: {b} > {lim}" for n, b, _, restricted, lim in balances if restricted and b > lim],
    )
    return result
