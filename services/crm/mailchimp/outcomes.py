"""Writing down what a sync did: the member record, a permanent error to show, or consent that
Mailchimp says was withdrawn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.crm import audience_repository, repository
from services.crm.audience_repository import MemberState
from services.crm.domain.customers import withdraw_consent
from services.crm.mailchimp.members import Outcome


async def record_outcomes(
    conn: AsyncConnection,
    outcomes: Sequence[Outcome],
    before: Mapping[str, MemberState],
    synced_at: datetime,
    now: datetime,
) -> None:
    """`synced_at` is the wall clock of the sync; `now` the business clock, for the customer."""
    states: list[MemberState] = []
    withdrawn: dict[str, str] = {}
    for outcome in outcomes:
        previous = before.get(outcome.customer_id)
        if outcome.kind == "synced":
            states.append(
                MemberState(
                    outcome.customer_id, outcome.record, "synced", None, synced_at, synced_at
                )
            )
        elif outcome.kind == "failed":
            # A permanent error: shown on the customer until a new change syncs, never retried.
            states.append(
                MemberState(
                    outcome.customer_id,
                    outcome.record,
                    "failed",
                    outcome.error,
                    previous.synced_at if previous else None,
                    synced_at,
                )
            )
        if outcome.withdrawn is not None:
            withdrawn[outcome.customer_id] = outcome.withdrawn
    await audience_repository.save_members(conn, states)
    await withdraw(conn, withdrawn, now)


async def withdraw(conn: AsyncConnection, sources: Mapping[str, str], now: datetime) -> list[str]:
    """Withdraws the consent of each customer (value: the source to record); returns those
    that changed."""
    if not sources:
        return []
    found = await repository.load_customers(conn, sources)
    changed = []
    for customer_id, customer in found.items():
        after = withdraw_consent(customer, sources[customer_id], now)
        if after != customer:
            changed.append(after)
    await repository.save_customers(conn, [], changed)
    return [c.customer_id for c in changed]
