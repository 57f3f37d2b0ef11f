"""Carrying out sync plans against the audience: direct calls for a few members, one batch
operation for many. Each plan ends in an `Outcome`; nothing here touches the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from services.crm.domain.audience import (
    Leave,
    MemberRecord,
    MemberStatus,
    Plan,
    StatusSource,
    Subscribe,
    Unsubscribe,
    subscriber_hash,
)
from services.crm.mailchimp.api import ApiFailure, MailchimpApi
from services.crm.mailchimp.batches import Operation, Progress, Result, run_batches

OutcomeKind = Literal["synced", "failed", "retry", "left"]


@dataclass(frozen=True)
class Outcome:
    customer_id: str
    kind: OutcomeKind
    # What the audience holds now as far as the CRM knows (unchanged after a failure).
    record: MemberRecord
    error: str | None = None
    retry_after_s: float | None = None
    # Mailchimp holds an unsubscribe or a bounce this CRM did not make: the customer's consent
    # is withdrawn with this source (a webhook that never arrived, or arrived late).
    withdrawn: str | None = None


@dataclass(frozen=True)
class BatchTiming:
    threshold: int
    poll_interval_s: float
    wait_max_s: float


class MemberSync:
    def __init__(self, api: MailchimpApi, timing: BatchTiming) -> None:
        self._api = api
        self._timing = timing

    def _path(self, email: str) -> str:
        return f"/lists/{self._api.audience_id}/members/{subscriber_hash(email)}"

    async def push(
        self,
        plans: Sequence[Plan],
        records: Mapping[str, MemberRecord],
        progress: Progress | None = None,
        *,
        force_batch: bool = False,
        present_tags: Mapping[str, tuple[str, ...]] | None = None,
    ) -> list[Outcome]:
        """`present_tags`: the tags members are known to hold (a drift report read them), so
        that a batch can add and remove exactly what differs."""

        def before(plan: Plan) -> MemberRecord:
            return records.get(plan.customer_id, MemberRecord())

        batchable = [p for p in plans if _batchable(p)]
        use_batch = force_batch or len(batchable) >= self._timing.threshold
        batched = batchable if use_batch else []
        in_batch = {id(p) for p in batched}
        direct = [p for p in plans if id(p) not in in_batch]
        outcomes = list(await asyncio.gather(*(self._direct(p, before(p)) for p in direct)))
        if batched:
            outcomes += await self._batched(batched, before, progress, present_tags or {})
        return outcomes

    async def _direct(self, plan: Plan, previous: MemberRecord) -> Outcome:
        try:
            if isinstance(plan, Subscribe):
                return await self._subscribe(plan, previous)
            if isinstance(plan, Unsubscribe):
                return await self._unsubscribe(plan, previous)
            return Outcome(plan.customer_id, "left", previous)
        except ApiFailure as failure:
            # An upsert cannot miss its member: a 404 there means the audience is missing
            # (MAILCHIMP_AUDIENCE_ID), which an operator fixes; the customer waits meanwhile.
            missing_audience = isinstance(plan, Subscribe) and failure.status == 404
            return _failed(plan.customer_id, previous, failure, retry=missing_audience)

    async def _subscribe(self, plan: Subscribe, previous: MemberRecord) -> Outcome:
        api, audience = self._api, self._api.audience_id
        member: dict[str, Any] | None = None
        if plan.moved_from is not None:
            member = await self._move(plan)
        if member is None:
            body = plan.member_body()
            upserted: dict[str, Any] = await api.call(
                lambda c: c.lists.set_list_member(audience, plan.subscriber_hash, body)
            )
            member = upserted
        present = tuple(str(t["name"]) for t in member.get("tags") or [])
        changes = plan.tag_changes(present)
        if changes:
            await api.call(
                lambda c: c.lists.update_list_member_tags(
                    audience, plan.subscriber_hash, {"tags": changes}
                )
            )
        return _subscribed(plan, previous, member)

    async def _move(self, plan: Subscribe) -> dict[str, Any] | None:
        """Moves the member to the new address (its history and consent go with it); None
        when there is no old member to move, or the new address is a member already, in
        which case the old one is archived and the new one upserted."""
        assert plan.moved_from is not None
        api, audience, old = self._api, self._api.audience_id, subscriber_hash(plan.moved_from)
        body: dict[str, Any] = {"email_address": plan.email, "merge_fields": plan.merge_fields}
        if plan.explicit_status:
            body["status"] = "subscribed"
        try:
            member: dict[str, Any] = await api.call(
                lambda c: c.lists.update_list_member(audience, old, body)
            )
            return member
        except ApiFailure as failure:
            if failure.status == 404:
                return None
            if failure.status == 400 and failure.title == "Member Exists":
                await _archived(api, audience, old)
                return None
            raise

    async def _unsubscribe(self, plan: Unsubscribe, previous: MemberRecord) -> Outcome:
        audience = self._api.audience_id
        try:
            member = await self._api.call(
                lambda c: c.lists.update_list_member(
                    audience, plan.subscriber_hash, {"status": "unsubscribed"}
                )
            )
        except ApiFailure as failure:
            if failure.status != 404:
                raise
            return Outcome(plan.customer_id, "synced", MemberRecord())  # no member: done
        return _unsubscribed(plan, previous, member)

    async def _batched(
        self,
        plans: Sequence[Plan],
        before: Callable[[Plan], MemberRecord],
        progress: Progress | None,
        present_tags: Mapping[str, tuple[str, ...]],
    ) -> list[Outcome]:
        operations: list[Operation] = []
        for n, plan in enumerate(plans):
            if isinstance(plan, Subscribe):
                path = self._path(plan.email)
                operations.append(Operation(f"s{n}", "PUT", path, plan.member_body()))
                changes = plan.tag_changes(present_tags.get(plan.customer_id))
                if changes:
                    operations.append(Operation(f"t{n}", "POST", f"{path}/tags", {"tags": changes}))
            elif isinstance(plan, Unsubscribe):
                path = self._path(plan.email)
                operations.append(Operation(f"u{n}", "PATCH", path, {"status": "unsubscribed"}))
        try:
            results = await run_batches(
                self._api,
                operations,
                poll_interval_s=self._timing.poll_interval_s,
                wait_max_s=self._timing.wait_max_s,
                progress=progress,
            )
        except ApiFailure as failure:
            return [_failed(p.customer_id, before(p), failure, retry=True) for p in plans]
        return [_batch_outcome(n, plan, before(plan), results) for n, plan in enumerate(plans)]


def _batchable(plan: Plan) -> bool:
    # A move is a PATCH of the old member then, at times, a PUT of the new: two dependent
    # calls, which a batch cannot order.
    return isinstance(plan, Unsubscribe) or (
        isinstance(plan, Subscribe) and plan.moved_from is None
    )


async def _archived(api: MailchimpApi, audience: str, member_hash: str) -> None:
    try:
        await api.call(lambda c: c.lists.delete_list_member(audience, member_hash))
    except ApiFailure as failure:
        if failure.status != 404:
            raise


def _batch_outcome(
    n: int, plan: Plan, previous: MemberRecord, results: Mapping[str, Result]
) -> Outcome:
    if isinstance(plan, Leave):
        return Outcome(plan.customer_id, "left", previous)
    key = f"s{n}" if isinstance(plan, Subscribe) else f"u{n}"
    result = results.get(key)
    if result is None:
        return _failed(plan.customer_id, previous, ApiFailure(None, "no batch result"), retry=True)
    if isinstance(plan, Unsubscribe):
        if result.status == 404:
            return Outcome(plan.customer_id, "synced", MemberRecord())
        if not result.ok:
            return _failed(plan.customer_id, previous, result.failure())
        return _unsubscribed(plan, previous, result.body)
    if not result.ok:
        # Upserting cannot miss a member: a 404 means the audience itself is missing.
        return _failed(plan.customer_id, previous, result.failure(), retry=result.status == 404)
    tags = results.get(f"t{n}")
    if tags is not None and not tags.ok:
        return _failed(plan.customer_id, previous, tags.failure())
    return _subscribed(plan, previous, result.body)


def _failed(
    customer_id: str, previous: MemberRecord, failure: ApiFailure, *, retry: bool = False
) -> Outcome:
    kind: OutcomeKind = "retry" if retry or failure.transient else "failed"
    return Outcome(customer_id, kind, previous, failure.reason, failure.retry_after_s)


def _source(status: str | None, wanted: str, previous: MemberRecord) -> StatusSource:
    if status == wanted:
        return "crm"
    if previous.status == status and previous.status_source is not None:
        return previous.status_source
    return "mailchimp"


def _subscribed(plan: Subscribe, previous: MemberRecord, member: Any) -> Outcome:
    status = cast(MemberStatus | None, member.get("status") if isinstance(member, dict) else None)
    source = _source(status, "subscribed", previous)
    withdrawn = None
    if status in ("unsubscribed", "cleaned") and source == "mailchimp":
        withdrawn = "mailchimp:cleaned" if status == "cleaned" else "mailchimp:unsubscribe"
    record = MemberRecord(plan.email, status, source, plan.tags)
    return Outcome(plan.customer_id, "synced", record, withdrawn=withdrawn)


def _unsubscribed(plan: Unsubscribe, previous: MemberRecord, member: Any) -> Outcome:
    status = cast(MemberStatus | None, member.get("status") if isinstance(member, dict) else None)
    record = MemberRecord(
        plan.email, status, _source(status, "unsubscribed", previous), previous.tags
    )
    return Outcome(plan.customer_id, "synced", record)
