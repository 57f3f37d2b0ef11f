"""Earning and redemption rules of the loyalty program."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.crm.domain.earning import points_earned, points_refunded, points_to_redeem
from services.crm.domain.program import LoyaltyProgram
from shared.sales import SaleLine, Tender

DEFAULT = LoyaltyProgram()
DAY = date(2026, 11, 23)


def tenders(*pairs: tuple[str, str]) -> list[Tender]:
    return [Tender.model_validate({"type": t, "amount": a}) for t, a in pairs]


def lines(*pairs: tuple[str | None, str]) -> list[SaleLine]:
    return [
        SaleLine.model_validate(
            {"sku": f"S{n}", "quantity": "1", "unit_price": a, "amount": a, "category": c}
        )
        for n, (c, a) in enumerate(pairs)
    ]


def test_default_rule_is_one_point_per_whole_unit_rounded_down() -> None:
    assert points_earned(DEFAULT, tenders(("cash", "125.99")), [], DAY, None) == 125
    assert points_earned(DEFAULT, tenders(("card", "0.99")), [], DAY, None) == 0


def test_points_and_voucher_tenders_earn_nothing() -> None:
    paid = tenders(("cash", "10.50"), ("points", "20.00"), ("voucher", "5.00"), ("account", "4.50"))
    assert points_earned(DEFAULT, paid, [], DAY, None) == 15


def test_category_multiplier_counts_in_proportion_to_the_line() -> None:
    program = LoyaltyProgram(category_multipliers={"tools": Decimal("3")})
    docket = lines(("tools", "50.00"), ("garden", "50.00"))
    # Half the money at 3x, half at 1x: 100 x 2 = 200.
    assert points_earned(program, tenders(("cash", "100.00")), docket, DAY, None) == 200


def test_weighted_share_that_is_whole_is_not_lost_to_rounding() -> None:
    program = LoyaltyProgram(category_multipliers={"tools": Decimal("2")})
    docket = lines(("tools", "1.00"), ("garden", "2.00"))  # weight 4/3
    assert points_earned(program, tenders(("cash", "3.00")), docket, DAY, None) == 4


def test_birthday_month_bonus_applies_in_that_month_only() -> None:
    program = LoyaltyProgram.model_validate(
        {"bonuses": [{"kind": "birthday_month", "multiplier": "2"}]}
    )
    paid = tenders(("cash", "10.00"))
    assert points_earned(program, paid, [], DAY, date(1990, 11, 2)) == 20
    assert points_earned(program, paid, [], DAY, date(1990, 12, 2)) == 10
    assert points_earned(program, paid, [], DAY, None) == 10


def test_bonuses_do_not_stack_the_best_one_counts() -> None:
    program = LoyaltyProgram.model_validate(
        {
            "bonuses": [
                {"kind": "birthday_month", "multiplier": "2"},
                {"kind": "period", "starts": "2026-11-20", "ends": "2026-11-30", "multiplier": "3"},
            ]
        }
    )
    assert points_earned(program, tenders(("cash", "10.00")), [], DAY, date(1990, 11, 2)) == 30


def test_points_tender_redeems_at_point_value_rounded_up() -> None:
    assert points_to_redeem(DEFAULT, Decimal("1.00")) == 100
    assert points_to_redeem(DEFAULT, Decimal("1.005")) == 101
    assert points_refunded(DEFAULT, Decimal("1.005")) == 100


def test_tiers_must_start_at_zero_and_rise() -> None:
    with pytest.raises(ValidationError):
        LoyaltyProgram.model_validate({"tiers": [{"name": "silver", "min_spend": "10"}]})
    with pytest.raises(ValidationError):
        LoyaltyProgram.model_validate(
            {"tiers": [{"name": "a", "min_spend": "0"}, {"name": "b", "min_spend": "0"}]}
        )


def test_tier_is_the_highest_reached() -> None:
    assert DEFAULT.tier_for(Decimal("999.99")) == "member"
    assert DEFAULT.tier_for(Decimal("1000")) == "silver"
    assert DEFAULT.tier_for(Decimal("-5")) == "member"
