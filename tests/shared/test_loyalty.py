import json
from typing import Any

import pytest
from pydantic import ValidationError

from shared.loyalty import LoyaltyEvent, loyalty_key
from shared.wire import load_loyalty

EARNED = {
    "event_id": "l-1",
    "occurred_at": "2026-11-22T10:15:00+13:00",
    "customer_id": "C-77",
    "type": "points_earned",
    "points": 125,
    "balance": 1125,
    "sale_id": "S-100045",
    "tier": None,
}


def parse(**changes: Any) -> LoyaltyEvent:
    return load_loyalty(json.dumps({**EARNED, **changes}).encode())


def test_points_earned_parses_and_is_keyed_by_customer() -> None:
    event = parse()
    assert (event.points, event.balance) == (125, 1125)
    assert loyalty_key(event) == "C-77"


@pytest.mark.parametrize(
    ("kind", "points"),
    [
        ("points_redeemed", -50),
        ("points_expired", -10),
        ("points_reversed", -125),
        ("points_reversed", 50),
    ],
)
def test_points_are_the_signed_change_to_the_balance(kind: str, points: int) -> None:
    assert parse(type=kind, points=points).points == points


@pytest.mark.parametrize(
    ("kind", "points"),
    [("points_earned", 0), ("points_earned", -1), ("points_redeemed", 50), ("points_reversed", 0)],
)
def test_points_rejected_when_sign_contradicts_type(kind: str, points: int) -> None:
    with pytest.raises(ValidationError):
        parse(type=kind, points=points)


def test_tier_change_names_the_tier_and_moves_no_points() -> None:
    assert parse(type="tier_changed", points=0, tier="gold").tier == "gold"
    with pytest.raises(ValidationError, match="tier"):
        parse(type="tier_changed", points=0)
    with pytest.raises(ValidationError, match="no points"):
        parse(type="tier_changed", points=5, tier="gold")


@pytest.mark.parametrize("points", [12.5, "many"])
def test_points_rejected_unless_whole(points: object) -> None:
    with pytest.raises(ValidationError, match="points"):
        parse(points=points)


def test_unknown_loyalty_type_rejected() -> None:
    with pytest.raises(ValidationError, match="type"):
        parse(type="points_gifted")
