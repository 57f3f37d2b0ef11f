"""`crm.loyalty.v1`: changes to a customer's loyalty points and tier."""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from shared.base import Id, Message, Name
from shared.timestamps import Timestamp

__all__ = ["POINTS_MAX", "LoyaltyEvent", "LoyaltyEventType", "Points", "loyalty_key"]

# Points are stored in a BIGINT; this bound keeps any sum of a few of them inside it.
POINTS_MAX = 10**15

Points = Annotated[int, Field(ge=-POINTS_MAX, le=POINTS_MAX)]

LoyaltyEventType = Literal[
    "points_earned", "points_redeemed", "points_reversed", "points_expired", "tier_changed"
]


class LoyaltyEvent(Message):
    """One change to a customer's points, with the balance after it.

    `points` is the signed change (`balance` after = before + `points`): earned is positive,
    redeemed and expired are negative, reversed is either (a voided sale takes back points it
    earned and gives back points it redeemed), and `tier_changed` is 0 with the new `tier`.
    `balance` can go negative when points already spent are reversed.
    """

    event_id: Id
    occurred_at: Timestamp
    customer_id: Id
    type: LoyaltyEventType
    points: Points
    balance: Points
    sale_id: Id | None = None
    tier: Name | None = None

    @model_validator(mode="after")
    def _points_fit_type(self) -> Self:
        problem = _points_problem(self.type, self.points)
        if problem is None and self.type == "tier_changed" and self.tier is None:
            problem = "tier_changed needs the new tier"
        if problem is not None:
            raise ValueError(problem)
        return self


def _points_problem(kind: LoyaltyEventType, points: int) -> str | None:
    if kind == "points_earned" and points <= 0:
        return "points_earned is positive"
    if kind in ("points_redeemed", "points_expired") and points >= 0:
        return f"{kind} is negative"
    if kind == "points_reversed" and points == 0:
        return "points_reversed is not zero"
    if kind == "tier_changed" and points != 0:
        return "tier_changed moves no points"
    return None


def loyalty_key(event: LoyaltyEvent) -> str:
    return event.customer_id
