"""The CRM read model: one view per customer, for `GET /v1/customers/{customer_id}`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing
from services.crm import audience_repository, loyalty_repository, repository
from services.crm.audience_repository import MemberState, QueuedSync
from services.crm.domain.audience import wants_membership
from services.crm.domain.customers import Customer
from shared.money import format_amount
from shared.topics import CRM_LOYALTY


class TouchedCustomers:
    """Customers changed by a commit that published nothing about them (a new address, a cash
    sale too small to earn a point), so that their views are refreshed all the same.

    Handlers add to it inside the transaction; the read model drains it after the commit. A
    transaction that rolled back leaves ids whose refresh is merely redundant.
    """

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def add(self, customer_ids: Iterable[str]) -> None:
        self._ids.update(customer_ids)

    def drain(self) -> set[str]:
        drained, self._ids = self._ids, set()
        return drained


class CustomerViews:
    name = "crm:customer"

    def __init__(self, base_tier: str, touched: TouchedCustomers | None = None) -> None:
        self._base_tier = base_tier
        self.touched = touched or TouchedCustomers()

    def keys_of(self, messages: Sequence[Outgoing]) -> set[str]:
        published = {m.key for m in messages if m.key and m.topic == CRM_LOYALTY}
        return published | self.touched.drain()

    async def all_keys(self, conn: AsyncConnection) -> list[str]:
        return await repository.all_customer_ids(conn)

    async def build(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Any]:
        found = await repository.find_customers(conn, keys)
        balances = await loyalty_repository.points_balances(conn, found)
        members = await audience_repository.load_members(conn, found)
        queued = await audience_repository.queued(conn, found)
        return {
            customer_id: self._view(
                customer,
                balances.get(customer_id, 0) - customer.points_debt,
                members.get(customer_id),
                queued.get(customer_id),
            )
            for customer_id, customer in found.items()
        }

    def _view(
        self,
        customer: Customer,
        balance: int,
        member: MemberState | None,
        queued: QueuedSync | None,
    ) -> dict[str, Any]:
        return {
            "customer_id": customer.customer_id,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "account_number": customer.account_number,
            "consent": {
                "marketing_opt_in": customer.marketing_opt_in,
                "state": _consent_state(customer.marketing_opt_in),
                "source": customer.opt_in_source,
            },
            "points_balance": balance,
            "tier": customer.tier or self._base_tier,
            "lifetime_spend": format_amount(customer.lifetime_spend),
            "visits": customer.visits,
            "last_purchase_at": (
                customer.last_purchase_at.isoformat() if customer.last_purchase_at else None
            ),
            "mailchimp": mailchimp_view(customer, member, queued),
            "updated_at": customer.updated_at.isoformat(),
        }


def _consent_state(opt_in: bool | None) -> str:
    if opt_in is None:
        return "never_asked"
    return "opted_in" if opt_in else "opted_out"


def mailchimp_view(
    customer: Customer, member: MemberState | None, queued: QueuedSync | None
) -> dict[str, Any]:
    """The sync state: `pending` (queued), `retrying` (a transient failure, retried with
    backoff), `failed` (a permanent error, kept until a new change), `synced`, or `not_member`
    (never opted in, so never sent)."""
    record = member.record if member else None
    if queued is not None:
        state = "retrying" if queued.attempts else "pending"
        error = queued.last_error
    elif member is not None:
        state, error = member.state, member.error
    else:
        state = "pending" if wants_membership(customer) else "not_member"
        error = None
    return {
        "state": state,
        "status": record.status if record else None,
        "email": record.email if record else None,
        "tags": list(record.tags) if record else [],
        "synced_at": member.synced_at.isoformat() if member and member.synced_at else None,
        "error": error,
        "attempts": queued.attempts if queued else 0,
    }
