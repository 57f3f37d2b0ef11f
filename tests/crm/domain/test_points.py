"""Points in lots: earning, redemption oldest first, reversals, debt and expiry.

The state machine drives the domain the way services/crm/handlers.py does (a sale redeems, then
earns; a void or return reverses through `purchases`), with plain counters as the model. The
invariants run after every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.crm.domain.points import (
    InsufficientPoints,
    PointsAccount,
    Take,
    earn,
    expire,
    give_back,
    redeem,
    take_back,
)
from services.crm.domain.purchases import Purchase, Reversal, return_goods, void

T0 = datetime(2026, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)


def earned(*points: int) -> PointsAccount:
    account = PointsAccount()
    for n, p in enumerate(points):
        account = earn(account, f"L{n}", p, T0 + timedelta(days=n), T0 + timedelta(days=n) + YEAR)
    return account


def test_redemption_takes_the_oldest_lot_first() -> None:
    account, takes = redeem(earned(30, 50), 40)
    assert takes == [Take("L0", 30), Take("L1", 10)]
    assert account.lots["L0"].remaining == 0 and account.lots["L1"].remaining == 40


def test_redemption_beyond_the_balance_is_refused_whole() -> None:
    account = earned(30)
    with pytest.raises(InsufficientPoints) as refused:
        redeem(account, 31)
    assert (refused.value.wanted, refused.value.balance) == (31, 30)


def test_taking_back_spent_points_leaves_a_debt_paid_by_the_next_earning() -> None:
    account, _ = redeem(earned(100), 100)
    account = take_back(account, 100, own_lot="L0")
    assert (account.balance, account.debt) == (-100, 100)
    account = earn(account, "L9", 150, T0, T0 + YEAR)
    assert (account.balance, account.debt, account.lots["L9"].remaining) == (50, 0, 50)


def test_take_back_empties_the_own_lot_first() -> None:
    account = take_back(earned(30, 50), 20, own_lot="L1")
    assert account.lots["L1"].remaining == 30 and account.lots["L0"].remaining == 30


def test_give_back_pays_the_debt_then_refills_the_lots_taken_from() -> None:
    account, takes = redeem(earned(100), 60)
    account = take_back(account, 70, own_lot=None)  # 40 from the lot, 30 owed
    account, takes = give_back(account, takes, 60)
    assert (account.debt, account.lots["L0"].remaining, takes[0].restored) == (0, 30, 30)


def test_expiry_takes_only_lots_whose_time_has_come() -> None:
    account, expired = expire(earned(10, 20), T0 + YEAR)
    assert expired == 10
    assert account.balance == 20


@dataclass
class Sale:
    purchase: Purchase
    takes: list[Take]


class PointsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.account = PointsAccount()
        self.sales: dict[str, Sale] = {}
        self.now = T0
        self.moved = {"earned": 0, "redeemed": 0, "taken_back": 0, "given_back": 0, "expired": 0}

    @rule(
        earn_points=st.integers(0, 500),
        redeem_points=st.integers(0, 500),
        amount=st.integers(1, 100_000),
    )
    def complete_sale(self, earn_points: int, redeem_points: int, amount: int) -> None:
        sale_id = f"S{len(self.sales)}"
        balance = self.account.balance
        takes: list[Take] = []
        if redeem_points:
            try:
                self.account, takes = redeem(self.account, redeem_points)
            except InsufficientPoints:
                assert redeem_points > balance
                assert self.account.balance == balance  # refused whole: nothing taken
                return
            assert self.account.balance >= 0, "a redemption never takes the balance negative"
            self.moved["redeemed"] += redeem_points
        if earn_points:
            self.account = earn(self.account, sale_id, earn_points, self.now, self.now + YEAR)
            self.moved["earned"] += earn_points
        purchase = Purchase(
            sale_id, "C", Decimal(amount) / 100, "NZD", self.now, earn_points, redeem_points
        )
        self.sales[sale_id] = Sale(purchase, takes)

    def _apply(self, sale: Sale, reversal: Reversal) -> None:
        if reversal.give_back:
            self.account, sale.takes = give_back(self.account, sale.takes, reversal.give_back)
            self.moved["given_back"] += reversal.give_back
        if reversal.take_back:
            self.account = take_back(self.account, reversal.take_back, sale.purchase.sale_id)
            self.moved["taken_back"] += reversal.take_back
        sale.purchase = reversal.purchase

    @precondition(lambda self: self.sales)
    @rule(data=st.data())
    def void_sale(self, data: st.DataObject) -> None:
        sale = self.sales[data.draw(st.sampled_from(sorted(self.sales)))]
        self._apply(sale, void(sale.purchase, self.now))

    @precondition(lambda self: self.sales)
    @rule(data=st.data(), cents=st.integers(1, 100_000), refund_points=st.integers(0, 300))
    def return_goods(self, data: st.DataObject, cents: int, refund_points: int) -> None:
        sale = self.sales[data.draw(st.sampled_from(sorted(self.sales)))]
        self._apply(sale, return_goods(sale.purchase, Decimal(cents) / 100, refund_points))

    @rule(days=st.integers(1, 200))
    def time_passes_and_points_expire(self, days: int) -> None:
        self.now += timedelta(days=days)
        self.account, expired = expire(self.account, self.now)
        self.moved["expired"] += expired

    @invariant()
    def balance_is_lot_remainders_less_debt(self) -> None:
        lots = self.account.lots.values()
        assert self.account.balance == sum(lot.remaining for lot in lots) - self.account.debt

    @invariant()
    def every_point_is_accounted_for(self) -> None:
        m = self.moved
        expected = m["earned"] - m["redeemed"] - m["taken_back"] + m["given_back"] - m["expired"]
        assert self.account.balance == expected

    @invariant()
    def reversals_never_exceed_what_the_sale_moved(self) -> None:
        for sale in self.sales.values():
            p = sale.purchase
            assert p.earned_reversed <= p.points_earned
            assert p.redeemed_restored <= p.points_redeemed
            assert sum(t.restored for t in sale.takes) <= p.redeemed_restored

    @invariant()
    def debt_only_when_every_lot_is_empty(self) -> None:
        if self.account.debt:
            assert all(lot.remaining == 0 for lot in self.account.lots.values())

    @invariant()
    def lots_hold_between_nothing_and_what_they_earned(self) -> None:
        for lot in self.account.lots.values():
            assert 0 <= lot.remaining <= lot.points


TestPointsMachine = PointsMachine.TestCase
TestPointsMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
