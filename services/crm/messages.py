"""The CRM's outgoing messages: each change to a customer's points or tier, with the balance."""

from __future__ import annotations

from datetime import datetime

from services.common.ids import derived_id
from services.common.messages import Outgoing
from shared.loyalty import LoyaltyEvent, LoyaltyEventType
from shared.topics import CRM_LOYALTY


def loyalty_event(
    kind: LoyaltyEventType,
    *,
    cause: str,
    customer_id: str,
    points: int,
    balance: int,
    at: datetime,
    sale_id: str | None = None,
    tier: str | None = None,
    part: str = "",
) -> Outgoing:
    """`cause` is the id of what caused the change (an event id, or the expired lots), so that
    applying it again yields the same event id; `part` tells apart two events of one cause."""
    event = LoyaltyEvent(
        event_id=derived_id("l", cause, kind, part),
        occurred_at=at,
        customer_id=customer_id,
        type=kind,
        points=points,
        balance=balance,
        sale_id=sale_id,
        tier=tier,
    )
    return Outgoing.of(CRM_LOYALTY, customer_id, event)
