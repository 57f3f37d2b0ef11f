"""A statement's arithmetic: opening + entries = closing, and the aging adds up to it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.statements.domain.ledger import Entry, EntryKind
from services.statements.domain.schedule import Period
from services.statements.domain.statement import state_account
from tests.statements.domain.examples import ACCOUNT, AUCKLAND, at, entry

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


def test_opening_balance_carries_forward_everything_before_the_period() -> None:
    entries = [
        entry("open", "opening_balance", "300.00", date(2026, 10, 2), due_in_days=0),
        entry("c1", "charge", "125.50", date(2026, 10, 31)),
        entry("c2", "charge", "40.00", date(2026, 11, 3)),
        entry("p1", "payment", "-300.00", date(2026, 11, 20)),
        entry("c3", "charge", "9.99", date(2026, 12, 1)),
    ]

    statement = state_account(ACCOUNT, entries, NOVEMBER, AUCKLAND)

    assert statement.opening_balance == Decimal("425.50")
    assert [line.entry_id for line in statement.lines] == ["c2", "p1"]
    assert statement.closing_balance == Decimal("165.50")
    assert statement.total_debits == Decimal("40.00")
    assert statement.total_credits == Decimal("300.00")


def test_lines_show_debit_credit_description_and_running_balance() -> None:
    entries = [
        entry("c1", "charge", "125.50", date(2026, 11, 3), reference="S-100045"),
        entry("p1", "payment", "-25.50", date(2026, 11, 4), reference="PAY-1"),
        entry("n1", "credit_note", "-10.00", date(2026, 11, 5), reference="CN-1"),
    ]

    lines = state_account(ACCOUNT, entries, NOVEMBER, AUCKLAND).lines

    assert [(x.description, x.reference, x.debit, x.credit, x.balance) for x in lines] == [
        ("Charge", "S-100045", Decimal("125.50"), Decimal("0"), Decimal("125.50")),
        ("Payment", "PAY-1", Decimal("0"), Decimal("25.50"), Decimal("100.00")),
        ("Credit note", "CN-1", Decimal("0"), Decimal("10.00"), Decimal("90.00")),
    ]
    assert lines[0].day == date(2026, 11, 3)


def test_entry_posted_just_after_local_midnight_belongs_to_the_next_period() -> None:
    # 00:30 on 1 Dec in Auckland is still 30 Nov in UTC: the business day decides.
    late = Entry("c1", "charge", Decimal("10.00"), at(date(2026, 12, 1), hour=0), "S-1", None)

    statement = state_account(ACCOUNT, [late], NOVEMBER, AUCKLAND)

    assert late.posted_at.date() == date(2026, 11, 30)
    assert statement.lines == ()
    assert statement.closing_balance == 0


def test_amount_due_is_the_closing_balance_due_a_credit_period_after_the_period_end() -> None:
    entries = [entry("c1", "charge", "50.00", date(2026, 11, 3))]

    statement = state_account(ACCOUNT, entries, NOVEMBER, AUCKLAND)

    assert statement.amount_due == Decimal("50.00")
    assert statement.due_date == date(2026, 12, 30)


def test_account_in_credit_owes_nothing() -> None:
    entries = [entry("p1", "payment", "-20.00", date(2026, 11, 3))]

    statement = state_account(ACCOUNT, entries, NOVEMBER, AUCKLAND)

    assert statement.closing_balance == Decimal("-20.00")
    assert statement.amount_due == Decimal("0")
    assert statement.aging.current == Decimal("-20.00")


def test_period_with_no_balance_and_no_entries_has_nothing_to_say() -> None:
    settled = [
        entry("c1", "charge", "20.00", date(2026, 10, 3)),
        entry("p1", "payment", "-20.00", date(2026, 10, 4)),
    ]

    assert state_account(ACCOUNT, settled, NOVEMBER, AUCKLAND).has_nothing_to_say
    assert not state_account(ACCOUNT, settled[:1], NOVEMBER, AUCKLAND).has_nothing_to_say


def test_charge_to_a_group_parent_names_the_member() -> None:
    charge = Entry("c1", "charge", Decimal("5.00"), at(date(2026, 11, 3)), "S-9", None, "ACC-0002")

    [line] = state_account(ACCOUNT, [charge], NOVEMBER, AUCKLAND).lines

    assert line.description == "Charge (member ACC-0002)"


# Ledger histories as the credit service posts them: signs by kind, at most 4 places.
_KINDS: dict[EntryKind, int] = {
    "charge": 1,
    "opening_balance": 1,
    "payment": -1,
    "credit_note": -1,
    "charge_reversal": -1,
    "journal": 0,
}
units = st.integers(min_value=1, max_value=10**9)
places = st.sampled_from([0, 2, 4])


@st.composite
def histories(draw: st.DrawFn) -> list[Entry]:
    count = draw(st.integers(min_value=0, max_value=40))
    day = date(2026, 6, 1)
    entries: list[Entry] = []
    for index in range(count):
        day += timedelta(days=draw(st.integers(min_value=0, max_value=12)))
        kind = draw(st.sampled_from(sorted(_KINDS)))
        sign = _KINDS[kind] or draw(st.sampled_from([1, -1]))
        amount = Decimal(sign * draw(units)).scaleb(-draw(places))
        reference = f"S-{draw(st.integers(min_value=0, max_value=5))}"
        if draw(st.integers(min_value=0, max_value=30)) == 0:
            kind, amount = "write_off", -sum((e.amount for e in entries), Decimal(0))
            if amount == 0:
                continue
        due = day + timedelta(days=draw(st.integers(0, 60))) if amount > 0 else None
        entries.append(Entry(f"e{index}", kind, amount, at(day), reference, due))
    return entries


@settings(max_examples=300)
@given(entries=histories(), end_offset=st.integers(min_value=0, max_value=200))
def test_opening_plus_entries_is_closing_and_aging_adds_up_to_it(
    entries: list[Entry], end_offset: int
) -> None:
    end = date(2026, 6, 1) + timedelta(days=end_offset)
    period = Period(end - timedelta(days=30), end)

    statement = state_account(ACCOUNT, entries, period, AUCKLAND)

    stated = [e for e in entries if e.posted_at.astimezone(AUCKLAND).date() <= end]
    assert statement.closing_balance == sum((e.amount for e in stated), Decimal(0))
    assert (
        statement.opening_balance
        + sum((line.debit - line.credit for line in statement.lines), Decimal(0))
        == statement.closing_balance
    )
    assert statement.aging.total == statement.closing_balance
    assert statement.amount_due == max(statement.closing_balance, Decimal(0))
    if statement.lines:
        assert statement.lines[-1].balance == statement.closing_balance
    # Only a credit is ever current with a negative amount; late buckets hold debits only.
    for late in (statement.aging.d1_30, statement.aging.d31_60, statement.aging.d61_90):
        assert late >= 0
    assert statement.aging.over_90 >= 0
