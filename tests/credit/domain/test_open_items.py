"""Open items and aging: settlements never exceed what they settle, and the open amounts and
the aging buckets always add up to the balance."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from services.credit.domain.aging import age
from services.credit.domain.errors import AllocationExceedsOpenAmount, SaleNotOpen
from services.credit.domain.postings import Book, IncompleteBook, post_credit, post_debit
from tests.credit.domain.examples import an_account

START = datetime(2026, 1, 1, tzinfo=UTC)
money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)
operations = st.lists(
    st.tuples(
        st.sampled_from(["charge", "pay", "pay_named", "note_for_sale"]), money, st.integers(0, 30)
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops=operations, today_offset=st.integers(0, 400))
def test_settlements_never_exceed_and_everything_adds_up(
    ops: list[tuple[str, Decimal, int]], today_offset: int
) -> None:
    book = Book(an_account(balance="0.00"))
    credits: dict[str, Decimal] = {}
    debits: dict[str, Decimal] = {}
    settled_by: dict[str, Decimal] = {}
    settled_of: dict[str, Decimal] = {}
    for n, (kind, amount, pick) in enumerate(ops):
        at = START + timedelta(days=n)
        if kind == "charge":
            posting = post_debit(
                book,
                entry_id=f"E{n}",
                kind="charge",
                amount=amount,
                reference=f"S{n}",
                posted_at=at,
                due_date=at.date() + timedelta(days=30),
            )
            debits[f"E{n}"] = amount
        else:
            open_sales = [i for i in book.items if i.open_amount > 0 and i.reference]
            named: list[tuple[str, Decimal]] = []
            settles_first = None
            if kind == "pay_named" and open_sales:
                target = open_sales[pick % len(open_sales)]
                named = [(target.reference or "", min(amount, target.open_amount))]
            if kind == "note_for_sale" and open_sales:
                settles_first = open_sales[pick % len(open_sales)].reference
            posting = post_credit(
                book,
                entry_id=f"E{n}",
                kind="payment",
                amount=amount,
                reference=f"P{n}",
                posted_at=at,
                named=named,
                settles_first=settles_first,
            )
            credits[f"E{n}"] = amount
        for settlement in posting.settlements:
            assert settlement.amount > 0
            settled_by[settlement.credit_id] = (
                settled_by.get(settlement.credit_id, Decimal(0)) + settlement.amount
            )
            settled_of[settlement.item_id] = (
                settled_of.get(settlement.item_id, Decimal(0)) + settlement.amount
            )
        book.check()

    for item in book.items:
        assert abs(item.open_amount) <= abs(item.amount)
    # No credit settles more than its amount, and no debit is settled beyond its own.
    for credit_id, amount in credits.items():
        assert settled_by.get(credit_id, Decimal(0)) <= amount
    for debit_id, amount in debits.items():
        assert settled_of.get(debit_id, Decimal(0)) <= amount
    today = START.date() + timedelta(days=today_offset)
    assert age(book.items, today).total == book.account.balance


def test_a_named_allocation_beyond_the_open_amount_is_refused_and_changes_nothing() -> None:
    book = Book(an_account(balance="0.00"))
    post_debit(
        book,
        entry_id="E1",
        kind="charge",
        amount=Decimal("20"),
        reference="S1",
        posted_at=START,
        due_date=date(2026, 1, 31),
    )
    with pytest.raises(AllocationExceedsOpenAmount):
        post_credit(
            book,
            entry_id="E2",
            kind="payment",
            amount=Decimal("25"),
            reference="P1",
            posted_at=START,
            named=[("S1", Decimal("25"))],
        )
    with pytest.raises(SaleNotOpen):
        post_credit(
            book,
            entry_id="E3",
            kind="payment",
            amount=Decimal("5"),
            reference="P2",
            posted_at=START,
            named=[("S9", Decimal("5"))],
        )
    assert book.account.balance == Decimal("20")
    assert [i.open_amount for i in book.items] == [Decimal("20")]
    book.check()


def test_aging_buckets_by_days_past_due() -> None:
    book = Book(an_account(balance="0.00"))
    for n, days_late in enumerate([0, 15, 45, 75, 120]):
        due = date(2026, 6, 1) - timedelta(days=days_late)
        post_debit(
            book,
            entry_id=f"E{n}",
            kind="charge",
            amount=Decimal("10"),
            reference=f"S{n}",
            posted_at=START,
            due_date=due,
        )
    buckets = age(book.items, date(2026, 6, 1))
    assert (buckets.current, buckets.d1_30, buckets.d31_60, buckets.d61_90, buckets.over_90) == (
        Decimal("10"),
        Decimal("10"),
        Decimal("10"),
        Decimal("10"),
        Decimal("10"),
    )


def _history(book: Book, ops: list[tuple[bool, Decimal, int]]) -> None:
    for n, (is_charge, amount, days) in enumerate(ops):
        at = START + timedelta(days=n)
        if is_charge:
            post_debit(
                book,
                entry_id=f"E{n}",
                kind="charge",
                amount=amount,
                reference=f"S{n}",
                posted_at=at,
                due_date=at.date() + timedelta(days=days),
            )
        else:
            post_credit(
                book, entry_id=f"E{n}", kind="payment", amount=amount, reference=None, posted_at=at
            )


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(st.tuples(st.booleans(), money, st.integers(0, 30)), max_size=30),
    charges=st.lists(money, min_size=1, max_size=5),
    hold_days=st.one_of(st.none(), st.integers(0, 60)),
    today_offset=st.integers(0, 120),
)
def test_a_book_of_credits_only_charges_and_holds_like_the_complete_book(
    ops: list[tuple[bool, Decimal, int]],
    charges: list[Decimal],
    hold_days: int | None,
    today_offset: int,
) -> None:
    """What the worker loads for a run of charges: the credits, and the oldest debit's due."""
    complete = Book(an_account(balance="0.00"))
    complete.account.overdue_hold_days = hold_days
    _history(complete, ops)
    debits = [i.due_date for i in complete.items if i.open_amount > 0]
    partial = Book(
        replace(complete.account),
        [replace(i) for i in complete.items if i.open_amount < 0],
        complete=False,
        oldest_debit_due=min(debits, default=None),
    )
    today = START.date() + timedelta(days=today_offset)
    assert partial.overdue_beyond(today) == complete.overdue_beyond(today)
    for n, amount in enumerate(charges):
        at = START + timedelta(days=len(ops) + n)
        due = at.date() + timedelta(days=30)
        done = [
            post_debit(
                book,
                entry_id=f"C{n}",
                kind="charge",
                amount=amount,
                reference=f"C{n}",
                posted_at=at,
                due_date=due,
            )
            for book in (complete, partial)
        ]
        assert done[0] == done[1]
        assert partial.overdue_beyond(today) == complete.overdue_beyond(today)
    assert partial.account.balance == complete.account.balance
    # The credits and the new charges are the same items, and what is left open is the same.
    in_complete = {i.item_id: i.open_amount for i in complete.items}
    assert {i.item_id: i.open_amount for i in partial.items} == {
        i.item_id: in_complete[i.item_id] for i in partial.items
    }
    assert {f"C{n}" for n in range(len(charges))} <= {i.item_id for i in partial.items}


def test_a_book_of_credits_only_cannot_settle_debits() -> None:
    book = Book(an_account(balance="10.00"), complete=False)
    with pytest.raises(IncompleteBook):
        post_credit(
            book, entry_id="P", kind="payment", amount=Decimal(5), reference=None, posted_at=START
        )


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(st.tuples(st.booleans(), money, st.integers(0, 30)), min_size=1, max_size=30),
    pick=st.integers(0, 29),
    fraction=st.sampled_from([Decimal("1"), Decimal("0.5"), Decimal("0.25"), Decimal("1.5")]),
)
def test_a_book_with_its_sales_debits_settles_a_void_like_the_complete_book_or_asks_for_it(
    ops: list[tuple[bool, Decimal, int]], pick: int, fraction: Decimal
) -> None:
    """What the worker loads for a void or a return: the credits and the debit of the sale it
    names. Where that debit absorbs the credit whole, the posting is the complete book's;
    otherwise (partly paid, or no such debit) it raises IncompleteBook and changes nothing."""
    complete = Book(an_account(balance="0.00"))
    _history(complete, ops)
    sale = f"S{pick % len(ops)}"
    charged = next((amount for is_charge, amount, _ in ops if is_charge), Decimal("10.00"))
    amount = (charged * fraction).quantize(Decimal("0.01")) or Decimal("0.01")
    partial = Book(
        replace(complete.account),
        [replace(i) for i in complete.items if i.open_amount < 0 or i.reference == sale],
        complete=False,
    )
    before = {i.item_id: i.open_amount for i in partial.items}
    debit = next((i for i in complete.items if i.open_amount > 0 and i.reference == sale), None)
    credit = {
        "entry_id": "V",
        "kind": "charge_reversal",
        "amount": amount,
        "reference": sale,
        "posted_at": START + timedelta(days=len(ops)),
        "settles_first": sale,
    }
    absorbed = debit is not None and debit.open_amount >= amount
    event("absorbed by its sale" if absorbed else "needs the complete book")
    if not absorbed:
        with pytest.raises(IncompleteBook):
            post_credit(partial, **credit)  # type: ignore[arg-type]
        assert {i.item_id: i.open_amount for i in partial.items} == before
        assert partial.account.balance == complete.account.balance
        return
    done = [post_credit(book, **credit) for book in (complete, partial)]  # type: ignore[arg-type]
    assert done[0] == done[1]
    assert partial.account.balance == complete.account.balance
    in_complete = {i.item_id: i.open_amount for i in complete.items}
    assert {i.item_id: i.open_amount for i in partial.items} == {
        i.item_id: in_complete[i.item_id] for i in partial.items
    }
