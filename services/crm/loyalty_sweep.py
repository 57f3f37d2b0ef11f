"""The loyalty sweep, a background task of the CRM worker driven by the injected clock: points
whose expiry has come are taken (oldest lots first, as they were earned), and tiers whose
rolling spend fell behind as purchases left the window are lowered.

Its messages go through the outbox in the transaction of their effect, like the pipeline's, and
are published after the commit; a crash in between leaves them to the relay's sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.clock import Clock
from services.common.messages import Outgoing
from services.common.outbox import Outbox, OutboxRelay
from services.common.read_model import ReadModel
from services.crm import loyalty_repository, repository
from services.crm.domain.customers import set_tier
from services.crm.domain.points import PointsAccount, expire
from services.crm.domain.program import LoyaltyProgram
from services.crm.messages import loyalty_event

log = logging.getLogger(__name__)

# Each round empties the expired lots of the customers it took, so the next takes others; the
# bound only guards against a bug turning the loop endless.
_ROUNDS_MAX = 10_000


class LoyaltySweep:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Outbox,
        relay: OutboxRelay | None,
        read_model: ReadModel | None,
        program: LoyaltyProgram,
        clock: Clock,
        business_tz: ZoneInfo,
        *,
        interval_s: float,
        batch_max: int,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._relay = relay
        self._read_model = read_model
        self._program = program
        self._clock = clock
        self._tz = business_tz
        self._interval_s = interval_s
        self._batch_max = batch_max

    async def run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except (OperationalError, DBAPIError, OSError) as error:
                log.warning("loyalty sweep failed (%s); retrying", type(error).__name__)
            except Exception:
                # A bug must not end expiry for the life of the worker; each round commits
                # whole, so the next one starts from a consistent state.
                log.exception("loyalty sweep failed; retrying")
            await asyncio.sleep(self._interval_s)

    async def sweep_once(self) -> int:
        """Returns how many loyalty events the sweep published."""
        now = self._clock.now()
        return await self._expire_points(now) + await self._review_tiers(now)

    async def _expire_points(self, now: datetime) -> int:
        published = 0
        for _ in range(_ROUNDS_MAX):
            async with self._engine.begin() as conn:
                ids = await loyalty_repository.customers_with_expired_lots(
                    conn, now, self._batch_max
                )
                if not ids:
                    return published
                messages = await self._expire(conn, ids, now)
                rows = await self._outbox.add(conn, messages, now)
            published += await self._published(rows, ids)
        raise AssertionError("expiry did not empty the expired lots")

    async def _expire(
        self, conn: AsyncConnection, ids: Sequence[str], now: datetime
    ) -> list[Outgoing]:
        customers = await repository.load_customers(conn, ids)
        lots = await loyalty_repository.load_lots(conn, customers)
        messages: list[Outgoing] = []
        changed = []
        for customer_id, customer in customers.items():
            before = PointsAccount(lots.get(customer_id, {}), customer.points_debt)
            after, expired = expire(before, now)
            if not expired:
                continue
            taken = sorted(k for k, lot in after.lots.items() if lot != before.lots[k])
            changed += [after.lots[k] for k in taken]
            messages.append(
                loyalty_event(
                    "points_expired",
                    cause=f"expiry:{customer_id}:{','.join(taken)}",
                    customer_id=customer_id,
                    points=-expired,
                    balance=after.balance,
                    at=now.astimezone(self._tz),
                )
            )
        await loyalty_repository.save_lots(conn, [], changed)
        return messages

    async def _review_tiers(self, now: datetime) -> int:
        published = 0
        after = ""
        since = now - timedelta(days=self._program.tier_window_days)
        for _ in range(_ROUNDS_MAX):
            async with self._engine.begin() as conn:
                ids = await repository.customers_above(
                    conn, self._program.base_tier, after, self._batch_max
                )
                if not ids:
                    return published
                after = ids[-1]
                messages = await self._lower(conn, ids, since, now)
                rows = await self._outbox.add(conn, messages, now)
            published += await self._published(rows, ids)
        raise AssertionError("the tier review did not reach the last customer")

    async def _lower(
        self, conn: AsyncConnection, ids: Sequence[str], since: datetime, now: datetime
    ) -> list[Outgoing]:
        customers = await repository.load_customers(conn, ids)
        spend = await loyalty_repository.rolling_spend(conn, customers, since)
        lowered = []
        for customer_id, customer in customers.items():
            tier = self._program.tier_for(spend.get(customer_id, Decimal("0")))
            if tier != customer.tier:
                lowered.append(set_tier(customer, tier, now))
        await repository.save_customers(conn, [], lowered)
        balances = await loyalty_repository.points_balances(conn, [c.customer_id for c in lowered])
        return [
            loyalty_event(
                "tier_changed",
                cause=f"tier-review:{c.customer_id}:{now.isoformat()}",
                customer_id=c.customer_id,
                points=0,
                balance=balances.get(c.customer_id, 0) - c.points_debt,
                at=now.astimezone(self._tz),
                tier=c.tier,
            )
            for c in lowered
        ]

    async def _published(self, rows: list[tuple[int, Outgoing]], ids: Sequence[str]) -> int:
        if self._relay is not None:
            await self._relay.publish(rows)
        if self._read_model is not None:
            await self._read_model.refresh(ids)
        return len(rows)
