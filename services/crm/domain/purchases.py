"""A completed sale as the CRM counts it: what it added to spend and points, and what voids and
returns have taken back since. Each figure only ever moves toward zero, so a sale never gives
back more than it gave."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, localcontext

# Enough digits for points (16) times money (18) without the default 28-digit context rounding a
# share up to the next whole point.
_EXACT_DIGITS = 60


@dataclass(frozen=True)
class Purchase:
    sale_id: str
    customer_id: str
    amount: Decimal
    currency: str
    occurred_at: datetime
    points_earned: int = 0
    points_redeemed: int = 0
    earned_reversed: int = 0
    redeemed_restored: int = 0
    returned_amount: Decimal = Decimal("0")
    voided_at: datetime | None = None

    def __post_init__(self) -> None:
        assert 0 <= self.earned_reversed <= self.points_earned, self
        assert 0 <= self.redeemed_restored <= self.points_redeemed, self
        assert Decimal("0") <= self.returned_amount <= self.amount, self

    @property
    def counted_amount(self) -> Decimal:
        """What the sale still adds to the customer's spend."""
        return Decimal("0") if self.voided_at else self.amount - self.returned_amount


@dataclass(frozen=True)
class Reversal:
    """Points a void or return moves: earned points taken back, redeemed points given back."""

    purchase: Purchase
    take_back: int
    give_back: int
    spend_reduced: Decimal


def void(purchase: Purchase, now: datetime) -> Reversal:
    """Everything the sale still holds comes back: the rest of its points and its spend."""
    if purchase.voided_at is not None:
        return Reversal(purchase, 0, 0, Decimal("0"))
    after = replace(
        purchase,
        earned_reversed=purchase.points_earned,
        redeemed_restored=purchase.points_redeemed,
        voided_at=now,
    )
    return Reversal(
        after,
        purchase.points_earned - purchase.earned_reversed,
        purchase.points_redeemed - purchase.redeemed_restored,
        purchase.counted_amount,
    )


def return_goods(purchase: Purchase, refunded: Decimal, points_refunded: int) -> Reversal:
    """Earned points come back in proportion to the money returned so far, rounded down, so
    returning the whole sale in parts takes back exactly what it earned. Redeemed points come
    back only as far as the refund is paid in points, and never beyond what the sale took."""
    if purchase.voided_at is not None:
        return Reversal(purchase, 0, 0, Decimal("0"))
    returned = min(purchase.amount, purchase.returned_amount + refunded)
    if purchase.amount > 0:
        with localcontext() as context:
            context.prec = _EXACT_DIGITS
            share = Decimal(purchase.points_earned) * returned / purchase.amount
            due = int(share.to_integral_value(ROUND_FLOOR))
    else:
        due = purchase.points_earned
    give = min(points_refunded, purchase.points_redeemed - purchase.redeemed_restored)
    after = replace(
        purchase,
        returned_amount=returned,
        earned_reversed=max(purchase.earned_reversed, due),
        redeemed_restored=purchase.redeemed_restored + give,
    )
    return Reversal(
        after,
        after.earned_reversed - purchase.earned_reversed,
        give,
        returned - purchase.returned_amount,
    )
