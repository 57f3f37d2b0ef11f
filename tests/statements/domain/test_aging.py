"""Aging from entries: credits settle the oldest debits, as the credit service does."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.statements.domain.aging import Aging, age, open_items
from tests.statements.domain.examples import entry

NOV_30 = date(2026, 11, 30)


def test_charges_fall_into_buckets_by_days_past_their_due_date() -> None:
    entries = [
        entry("a", "charge", "10.00", date(2026, 7, 1)),  # due Jul 31: 122 days late
        entry("b", "charge", "20.00", date(2026, 9, 1)),  # due Oct 1: 60 days late
        entry("c", "charge", "30.00", date(2026, 10, 1)),  # due Oct 31: 30 days late
        entry("d", "charge", "40.00", date(2026, 10, 31)),  # due Nov 30: not late
        entry("e", "charge", "50.00", date(2026, 8, 31)),  # due Sep 30: 61 days late
    ]

    aging = age(open_items(entries), NOV_30)

    assert aging == Aging(
        current=Decimal("40.00"),
        d1_30=Decimal("30.00"),
        d31_60=Decimal("20.00"),
        d61_90=Decimal("50.00"),
        over_90=Decimal("10.00"),
    )


def test_payment_settles_the_oldest_due_date_first() -> None:
    entries = [
        entry("late", "charge", "100.00", date(2026, 9, 1)),
        entry("recent", "charge", "100.00", date(2026, 11, 20)),
        entry("pay", "payment", "-150.00", date(2026, 11, 25)),
    ]

    aging = age(open_items(entries), NOV_30)

    assert aging.current == Decimal("50.00")
    assert aging.d31_60 == Decimal("0.00")


def test_reversal_settles_its_own_sale_before_older_ones() -> None:
    entries = [
        entry("old", "charge", "80.00", date(2026, 9, 1), reference="S-1"),
        entry("new", "charge", "25.00", date(2026, 11, 20), reference="S-2"),
        entry("void", "charge_reversal", "-25.00", date(2026, 11, 21), reference="S-2"),
    ]

    aging = age(open_items(entries), NOV_30)

    assert aging.d31_60 == Decimal("80.00")
    assert aging.current == Decimal("0")


def test_unused_credit_counts_as_current_and_pays_the_next_charge() -> None:
    overpaid = [
        entry("c1", "charge", "10.00", date(2026, 9, 1)),
        entry("pay", "payment", "-60.00", date(2026, 9, 2)),
    ]
    assert age(open_items(overpaid), NOV_30) == Aging(current=Decimal("-50.00"))

    charged_again = [*overpaid, entry("c2", "charge", "70.00", date(2026, 9, 3))]
    aging = age(open_items(charged_again), NOV_30)

    assert aging.d31_60 == Decimal("20.00")
    assert aging.total == Decimal("20.00")


def test_write_off_closes_everything() -> None:
    entries = [
        entry("c1", "charge", "10.00", date(2026, 5, 1)),
        entry("c2", "journal", "5.00", date(2026, 6, 1)),
        entry("off", "write_off", "-15.00", date(2026, 11, 1)),
    ]

    assert open_items(entries) == []
    assert age(open_items(entries), NOV_30) == Aging()
