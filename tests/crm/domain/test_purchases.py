"""Voids and returns of a counted purchase: never more back than the sale gave."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.crm.domain.purchases import Purchase, return_goods, void

AT = datetime(2026, 11, 23, tzinfo=UTC)


def purchase(amount: str = "100.00", earned: int = 100, redeemed: int = 0) -> Purchase:
    return Purchase("S-1", "C-1", Decimal(amount), "NZD", AT, earned, redeemed)


def test_void_takes_back_all_earned_and_gives_back_all_redeemed() -> None:
    reversal = void(purchase(earned=100, redeemed=40), AT)
    assert (reversal.take_back, reversal.give_back) == (100, 40)
    assert reversal.spend_reduced == Decimal("100.00")


def test_second_void_moves_nothing() -> None:
    first = void(purchase(), AT)
    again = void(first.purchase, AT)
    assert (again.take_back, again.give_back, again.spend_reduced) == (0, 0, Decimal("0"))


def test_return_takes_back_in_proportion_rounded_down() -> None:
    reversal = return_goods(purchase("90.00", earned=10), Decimal("30.00"), 0)
    assert reversal.take_back == 3  # 10 x 30/90 = 3.33


def test_void_after_a_partial_return_takes_back_the_rest() -> None:
    returned = return_goods(purchase(earned=100), Decimal("25.00"), 0)
    rest = void(returned.purchase, AT)
    assert returned.take_back + rest.take_back == 100
    assert returned.spend_reduced + rest.spend_reduced == Decimal("100.00")


def test_returning_more_than_was_bought_counts_the_sale_once() -> None:
    reversal = return_goods(purchase("50.00", earned=50), Decimal("80.00"), 0)
    assert reversal.take_back == 50
    assert reversal.spend_reduced == Decimal("50.00")


def test_points_refund_gives_back_at_most_what_the_sale_redeemed() -> None:
    reversal = return_goods(purchase(earned=0, redeemed=30), Decimal("10.00"), 500)
    assert reversal.give_back == 30


@given(
    earned=st.integers(0, 10_000),
    parts=st.lists(st.integers(1, 5000), min_size=1, max_size=8),
)
def test_returns_in_parts_never_reverse_more_than_earned(earned: int, parts: list[int]) -> None:
    current = purchase("100.00", earned=earned)
    taken = 0
    for cents in parts:
        reversal = return_goods(current, Decimal(cents) / 100, 0)
        taken += reversal.take_back
        current = reversal.purchase
        assert taken <= earned
    if current.returned_amount == current.amount:
        assert taken == earned
