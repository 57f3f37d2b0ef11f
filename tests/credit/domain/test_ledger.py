"""Ledger entries: each moves the balance by exactly its amount; charges fall due later."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.credit.domain.ledger import EntryKind, due_date_of, post
from tests.credit.domain.examples import NOW, an_account

# Money with at most 4 places, as it arrives on the wire ("125.50", "0.0001", "-3").
amounts = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(min_value=-(10**8), max_value=10**8),
    st.sampled_from([0, 2, 4]),
)


@pytest.mark.parametrize(
    ("kind", "amount", "balance_after"),
    [
        ("charge", "125.50", "425.50"),
        ("opening_balance", "0.0001", "300.0001"),
        ("journal", "-300.00", "0.00"),
        ("payment", "-400.00", "-100.00"),
        ("credit_note", "-0.01", "299.99"),
    ],
)
def test_post_moves_the_balance_by_exactly_the_amount(
    kind: EntryKind, amount: str, balance_after: str
) -> None:
    account = an_account(balance="300.00")

    entry = post(
        account, entry_id="en-1", kind=kind, amount=Decimal(amount), reference="r", posted_at=NOW
    )

    assert account.balance == Decimal(balance_after)
    assert entry.balance_after == account.balance
    assert entry.amount == Decimal(amount)


def test_posted_entry_records_what_was_posted() -> None:
    account = an_account(number="ACC-0042")

    entry = post(
        account,
        entry_id="en-7",
        kind="charge",
        amount=Decimal("125.50"),
        reference="S-100045",
        posted_at=NOW,
        due_date=date(2026, 12, 22),
        forced=True,
    )

    assert entry.entry_id == "en-7"
    assert entry.account_number == "ACC-0042"
    assert entry.kind == "charge"
    assert entry.reference == "S-100045"
    assert entry.due_date == date(2026, 12, 22)
    assert entry.posted_at == NOW
    assert entry.forced is True


@given(opening=amounts, posted=st.lists(amounts, max_size=20))
def test_balance_is_the_opening_balance_plus_every_amount_posted(
    opening: Decimal, posted: list[Decimal]
) -> None:
    account = an_account(balance="0")
    entries = [
        post(account, entry_id=f"en-{i}", kind="journal", amount=a, reference=None, posted_at=NOW)
        for i, a in enumerate([opening, *posted])
    ]

    running = Decimal("0")
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running
    assert account.balance == running == sum([opening, *posted], Decimal("0"))
    exponent = account.balance.as_tuple().exponent
    assert isinstance(exponent, int) and exponent >= -4


@pytest.mark.parametrize(
    ("credit_period_days", "charged_on", "due"),
    [
        (0, date(2026, 11, 22), date(2026, 11, 22)),
        (20, date(2026, 11, 22), date(2026, 12, 12)),
        (30, date(2026, 11, 22), date(2026, 12, 22)),
    ],
)
def test_charge_falls_due_the_credit_period_after_the_day_it_is_made(
    credit_period_days: int, charged_on: date, due: date
) -> None:
    account = an_account(credit_period_days=credit_period_days)

    assert due_date_of(account, charged_on) == due


def test_due_date_crosses_a_month_end() -> None:
    account = an_account(credit_period_days=30)

    assert due_date_of(account, date(2027, 1, 31)) == date(2027, 3, 2)


def test_due_date_crosses_a_year_end() -> None:
    account = an_account(credit_period_days=20)

    assert due_date_of(account, date(2026, 12, 20)) == date(2027, 1, 9)


def test_due_date_lands_on_a_leap_day() -> None:
    account = an_account(credit_period_days=1)

    assert due_date_of(account, date(2028, 2, 28)) == date(2028, 2, 29)


def test_due_date_counts_the_leap_day() -> None:
    account = an_account(credit_period_days=30)

    assert due_date_of(account, date(2028, 2, 15)) == date(2028, 3, 16)
    assert due_date_of(account, date(2027, 2, 15)) == date(2027, 3, 17)


def test_due_date_of_the_longest_credit_period_is_ten_years_of_days() -> None:
    account = an_account(credit_period_days=3650)

    assert due_date_of(account, date(2026, 11, 22)) == date(2036, 11, 19)
