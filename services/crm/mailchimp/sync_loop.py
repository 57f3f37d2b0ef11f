"""The sync loop: drains the durable queue of customer changes into the Mailchimp audience.

A change is queued in the transaction that made it, so nothing is lost to a crash or an outage:
a row leaves the queue only after Mailchimp answered for it. Several workers share the queue
through leases (a worker that dies leaves its rows to the others when the lease runs out), and
a row that changed while it was being synced stays for another pass, so the newest state wins.
Times here are the wall clock's: backoff and leases are about Mailchimp, not the business day.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import Clock, SystemClock
from services.common.read_model import ReadModel
from services.crm import audience_repository, repository
from services.crm.audience_repository import QueuedSync
from services.crm.domain.audience import MemberRecord, plan_sync
from services.crm.mailchimp.members import Outcome
from services.crm.mailchimp.outcomes import record_outcomes
from services.crm.mailchimp.setup import Mailchimp
from services.crm.settings import CrmSettings

log = logging.getLogger(__name__)


class SyncLoop:
    def __init__(
        self,
        engine: AsyncEngine,
        mailchimp: Mailchimp,
        settings: CrmSettings,
        clock: Clock,
        read_model: ReadModel | None,
    ) -> None:
        self._engine = engine
        self._mailchimp = mailchimp
        self._clock = clock
        self._wall = SystemClock()
        self._read_model = read_model
        self._interval_s = settings.mailchimp_sync_interval_s
        self._batch_max = settings.mailchimp_sync_batch_max
        # Longer than any pass: a batch's wait plus its own calls' time.
        self._lease = timedelta(
            seconds=settings.mailchimp_batch_wait_max_s + settings.mailchimp_timeout_s * 20
        )
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    async def run(self) -> None:
        """Until cancelled; a failing pass is logged and tried again after the interval."""
        try:
            while True:
                try:
                    synced = await self.drain_once()
                except (OperationalError, DBAPIError, OSError) as error:
                    log.warning("mailchimp sync pass failed (%s); retrying", type(error).__name__)
                    synced = 0
                except Exception:
                    # A bug must not end the sync for the life of the worker: the rows of the
                    # failed pass come back when their lease expires.
                    log.exception("mailchimp sync pass failed; retrying")
                    synced = 0
                if not synced:
                    await asyncio.sleep(self._interval_s)
        finally:
            await self._release()

    async def _release(self) -> None:
        try:
            async with self._engine.begin() as conn:
                await audience_repository.release(conn, self.owner)
        except (OperationalError, DBAPIError, OSError):
            log.info("sync leases of %s not released; they expire by themselves", self.owner)

    async def drain_once(self) -> int:
        """One pass over the due rows; returns how many it took."""
        now = self._wall.now()
        async with self._engine.begin() as conn:
            claimed = await audience_repository.claim(
                conn, self.owner, now, now + self._lease, self._batch_max
            )
        if not claimed:
            return 0
        ids = [item.customer_id for item in claimed]
        async with self._engine.connect() as conn:
            customers = await repository.find_customers(conn, ids)
            members = await audience_repository.load_members(conn, ids)
        records = {c: m.record for c, m in members.items()}
        plans = [
            plan_sync(
                customers[item.customer_id],
                records.get(item.customer_id, MemberRecord()),
                item.resubscribe,
            )
            for item in claimed
            if item.customer_id in customers
        ]
        outcomes = await self._mailchimp.members.push(plans, records)
        await self._record(claimed, outcomes, members)
        if self._read_model is not None:
            await self._read_model.refresh(ids)
        return len(claimed)

    async def _record(
        self,
        claimed: list[QueuedSync],
        outcomes: list[Outcome],
        members: dict[str, audience_repository.MemberState],
    ) -> None:
        by_customer = {o.customer_id: o for o in outcomes}
        done: list[QueuedSync] = []
        later = []
        wall = self._wall.now()
        for item in claimed:
            outcome = by_customer.get(item.customer_id)
            if outcome is not None and outcome.kind == "retry":
                delay = self._mailchimp.backoff.delay_s(item.attempts + 1, outcome.retry_after_s)
                later.append((item, wall + timedelta(seconds=delay), outcome.error or "retry"))
            else:
                done.append(item)
        async with self._engine.begin() as conn:
            await record_outcomes(conn, outcomes, members, wall, self._clock.now())
            await audience_repository.finish(conn, done)
            await audience_repository.retry_later(conn, later)
        if later:
            log.info("mailchimp sync: %d customers wait for a retry", len(later))
