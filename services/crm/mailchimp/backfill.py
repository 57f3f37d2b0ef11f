"""Bulk work on the audience for `tabs crm`: a full resync through batch operations, and the
drift report with its repair."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import Clock, SystemClock
from services.common.read_model import ReadModel
from services.crm import audience_repository, repository
from services.crm.audience_repository import MemberState, QueuedSync
from services.crm.domain.audience import (
    MemberRecord,
    MemberStatus,
    Plan,
    Subscribe,
    Unsubscribe,
    plan_sync,
    subscriber_hash,
)
from services.crm.domain.drift import AudienceMember, Drift, find_drift
from services.crm.mailchimp.members import Outcome
from services.crm.mailchimp.outcomes import record_outcomes, withdraw
from services.crm.mailchimp.setup import Mailchimp

# Customers planned and pushed per round: bounded memory, and progress a person can follow.
CUSTOMERS_PER_ROUND = 1000
# Mailchimp's largest page of members.
MEMBERS_PER_PAGE = 1000

Progress = Callable[[float, int], None]


@dataclass
class Report:
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self.outcomes[outcome.kind] += 1
            if outcome.error and outcome.kind != "synced":
                self.errors.append((outcome.customer_id, outcome.error))


@dataclass(frozen=True)
class Round:
    """Customers planned together: their plans, member records and queued changes."""

    plans: list[Plan]
    before: dict[str, MemberState]
    queued: dict[str, QueuedSync]

    @property
    def records(self) -> dict[str, MemberRecord]:
        return {c: m.record for c, m in self.before.items()}


class Backfill:
    def __init__(
        self,
        engine: AsyncEngine,
        mailchimp: Mailchimp,
        clock: Clock,
        read_model: ReadModel | None = None,
    ) -> None:
        self._engine = engine
        self._mailchimp = mailchimp
        self._clock = clock
        self._wall = SystemClock()
        # The look-up shows sync state and consent: refreshed here, as the worker would.
        self._read_model = read_model

    async def resync(self, progress: Progress, *, only_failed: bool = False) -> Report:
        """Every customer's member as the CRM says it should be, in batch operations."""
        async with self._engine.connect() as conn:
            if only_failed:
                members = await audience_repository.all_members(conn)
                ids = sorted(c for c, m in members.items() if m.state == "failed")
            else:
                ids = await repository.all_customer_ids(conn)
        report = Report()
        for start in range(0, len(ids), CUSTOMERS_PER_ROUND):
            chunk = ids[start : start + CUSTOMERS_PER_ROUND]
            planned = await self._plans(chunk)

            def step(done: int, total: int, base: int = start, size: int = len(chunk)) -> None:
                progress(base + size * done / max(total, 1), len(ids))

            outcomes = await self._mailchimp.members.push(
                planned.plans, planned.records, step, force_batch=True
            )
            await self._record(outcomes, planned)
            report.add(outcomes)
            progress(start + len(chunk), len(ids))
        return report

    async def _plans(self, ids: Sequence[str]) -> Round:
        async with self._engine.connect() as conn:
            customers = await repository.find_customers(conn, ids)
            before = await audience_repository.load_members(conn, ids)
            queued = await audience_repository.queued(conn, ids)
        plans = [
            plan_sync(c, before[i].record if i in before else MemberRecord(), False)
            for i, c in customers.items()
        ]
        return Round(plans, before, queued)

    async def _record(self, outcomes: Sequence[Outcome], done: Round) -> None:
        """Records the outcomes; a queued change the round covered leaves the queue, unless
        it changed again meanwhile (its version moved on)."""
        covered = {o.customer_id for o in outcomes if o.kind != "retry"}
        async with self._engine.begin() as conn:
            await record_outcomes(conn, outcomes, done.before, self._wall.now(), self._clock.now())
            await audience_repository.finish(
                conn, [q for c, q in done.queued.items() if c in covered]
            )
        await self._refresh([o.customer_id for o in outcomes])

    async def _refresh(self, ids: Sequence[str]) -> None:
        if self._read_model is not None and ids:
            await self._read_model.refresh(ids)

    async def drift(self) -> tuple[list[Drift], dict[str, AudienceMember]]:
        audience = await self._audience()
        async with self._engine.connect() as conn:
            customers = await repository.find_customers(
                conn, await repository.all_customer_ids(conn)
            )
            members = await audience_repository.all_members(conn)
        records = {c: m.record for c, m in members.items()}
        return find_drift(customers, records, audience), audience

    async def repair(
        self, drifts: Sequence[Drift], audience: Mapping[str, AudienceMember], progress: Progress
    ) -> Report:
        """Fixes each drift on the side that is wrong; `unknown` members are left alone."""
        withdrawn = {d.customer_id: d for d in drifts if d.kind == "withdrawn" and d.customer_id}
        await self._withdraw(withdrawn, audience)
        pushed = [d for d in drifts if d.customer_id and d.kind not in ("withdrawn", "unknown")]
        ids = sorted({d.customer_id for d in pushed if d.customer_id})
        planned = await self._plans(ids)
        resubscribe = {d.customer_id for d in pushed if d.kind == "resubscribe"}
        unsubscribe = {d.customer_id: d.email for d in pushed if d.kind == "subscribed"}
        repairs: list[Plan] = []
        present: dict[str, tuple[str, ...]] = {}
        for plan in planned.plans:
            if plan.customer_id in unsubscribe:
                repairs.append(Unsubscribe(plan.customer_id, unsubscribe[plan.customer_id]))
            elif isinstance(plan, Subscribe):
                explicit = plan.explicit_status or plan.customer_id in resubscribe
                member = audience.get(plan.subscriber_hash)
                if member is not None:
                    present[plan.customer_id] = member.tags
                repairs.append(replace(plan, explicit_status=explicit, known=member is not None))
        outcomes = await self._mailchimp.members.push(
            repairs,
            planned.records,
            lambda done, total: progress(done * len(ids) / max(total, 1), len(ids)),
            force_batch=True,
            present_tags=present,
        )
        await self._record(outcomes, planned)
        report = Report()
        report.add(outcomes)
        report.outcomes["withdrawn"] += len(withdrawn)
        progress(len(ids), len(ids))
        return report

    async def _withdraw(
        self, drifts: Mapping[str, Drift], audience: Mapping[str, AudienceMember]
    ) -> None:
        if not drifts:
            return
        async with self._engine.begin() as conn:
            before = await audience_repository.load_members(conn, drifts)
            states = []
            sources = {}
            for customer_id, drift in drifts.items():
                status = audience[subscriber_hash(drift.email)].status
                sources[customer_id] = (
                    f"mailchimp:{'cleaned' if status == 'cleaned' else 'unsubscribe'}"
                )
                known = before.get(customer_id)
                tags = known.record.tags if known else ()
                record = MemberRecord(drift.email, cast(MemberStatus, status), "mailchimp", tags)
                states.append(MemberState(customer_id, record, "synced", None, self._wall.now()))
            await audience_repository.save_members(conn, states)
            await withdraw(conn, sources, self._clock.now())
        await self._refresh(list(drifts))

    async def _audience(self) -> dict[str, AudienceMember]:
        api, audience_id = self._mailchimp.api, self._mailchimp.api.audience_id
        found: dict[str, AudienceMember] = {}
        offset = 0
        while True:

            def page_at(client: Any, at: int = offset) -> Any:
                return client.lists.get_list_members_info(
                    audience_id, count=MEMBERS_PER_PAGE, offset=at
                )

            page: dict[str, Any] = await api.call(page_at)
            for m in page.get("members", []):
                found[subscriber_hash(m["email_address"])] = AudienceMember(
                    email=m["email_address"],
                    status=m["status"],
                    merge_fields={k: str(v) for k, v in (m.get("merge_fields") or {}).items()},
                    tags=tuple(t["name"] for t in m.get("tags") or []),
                )
            offset += MEMBERS_PER_PAGE
            if offset >= int(page.get("total_items", 0)):
                return found
