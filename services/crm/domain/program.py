"""The loyalty program: how points are earned and redeemed, when they expire, and the tiers.

One value, read from `LOYALTY_RULES` (JSON) at start. The defaults are the contract's rule: one
point per whole unit of currency paid with tenders other than `points` and `voucher`, rounded
down; a `points` tender is worth `point_value` of currency per point.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.base import Name
from shared.sales import LOYALTY_EXCLUDED_TENDERS, TenderType

Multiplier = Decimal


class BirthdayMonthBonus(BaseModel):
    """Points are multiplied in the customer's birthday month (business time zone)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["birthday_month"]
    multiplier: Multiplier = Field(gt=0)


class PeriodBonus(BaseModel):
    """Points are multiplied on business days from `starts` to `ends`, both included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["period"]
    starts: date
    ends: date
    multiplier: Multiplier = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends < self.starts:
            raise ValueError("a bonus period ends on or after it starts")
        return self


Bonus = BirthdayMonthBonus | PeriodBonus


class Tier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    # Spend over the rolling window from which a customer holds this tier.
    min_spend: Decimal = Field(ge=0)


def _default_tiers() -> tuple[Tier, ...]:
    return (
        Tier(name="member", min_spend=Decimal("0")),
        Tier(name="silver", min_spend=Decimal("1000")),
        Tier(name="gold", min_spend=Decimal("5000")),
    )


class LoyaltyProgram(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    points_per_unit: Decimal = Field(Decimal("1"), ge=0)
    excluded_tenders: frozenset[TenderType] = LOYALTY_EXCLUDED_TENDERS
    # By line category; a category not named here earns at 1.
    category_multipliers: dict[str, Multiplier] = Field(default_factory=dict)
    bonuses: tuple[Bonus, ...] = ()
    # The money one point pays for in a `points` tender.
    point_value: Decimal = Field(Decimal("0.01"), gt=0)
    expiry_days: int = Field(365, ge=1)
    tiers: tuple[Tier, ...] = Field(default_factory=_default_tiers, min_length=1)
    tier_window_days: int = Field(365, ge=1)

    @model_validator(mode="after")
    def _tiers_climb_from_zero(self) -> Self:
        spends = [tier.min_spend for tier in self.tiers]
        if spends[0] != 0:
            raise ValueError("the first tier starts at a spend of 0: every customer has a tier")
        if any(later <= earlier for earlier, later in pairwise(spends)):
            raise ValueError("tiers are listed by strictly rising min_spend")
        if len({tier.name for tier in self.tiers}) != len(self.tiers):
            raise ValueError("tier names are unique")
        if any(m < 0 for m in self.category_multipliers.values()):
            raise ValueError("category multipliers are not negative")
        return self

    @property
    def base_tier(self) -> str:
        return self.tiers[0].name

    def tier_for(self, rolling_spend: Decimal) -> str:
        """The highest tier whose threshold the spend reaches (a refund can make spend negative:
        the base tier still holds)."""
        reached = [tier.name for tier in self.tiers if tier.min_spend <= rolling_spend]
        return reached[-1] if reached else self.base_tier
