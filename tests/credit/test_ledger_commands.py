"""Payments, credit notes, journals, voids, returns, offline sales and write-offs, end to end."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.credit import repository
from shared.topics import ACCOUNT_EVENTS, POS_SALES
from tests.support.credit import Harness, authorize, open_account
from tests.support.naming import unique


def command(kind: str, account: str, **fields: Any) -> dict[str, Any]:
    return {
        "command_id": unique("c-"),
        "issued_at": "2026-11-23T09:00:00+13:00",
        "issued_by": "back-office",
        "type": kind,
        "account_number": account,
        **fields,
    }


def payment(
    account: str, amount: str, *, method: str = "eft", allocations: dict[str, str] | None = None
) -> dict[str, Any]:
    """`record_payment` with a new payment id; `allocations` maps sale ids to amounts."""
    named = {}
    if allocations is not None:
        named["allocations"] = [{"sale_id": s, "amount": a} for s, a in allocations.items()]
    return command(
        "record_payment", account, payment_id=unique("P-"), amount=amount, method=method, **named
    )


async def entry_for(
    credit: Harness, account: str, kind: str, count: int = 1
) -> list[dict[str, Any]]:
    found = await credit.replies.wait_for(
        credit.topic(ACCOUNT_EVENTS),
        lambda m: (
            m["type"] == "entry_posted"
            and m["account_number"] == account
            and m["entry"]["kind"] == kind
        ),
        count=count,
    )
    return [m["entry"] for m in found]


async def rejection(credit: Harness, command_id: str) -> dict[str, Any]:
    [found] = await credit.replies.wait_for(
        credit.topic(ACCOUNT_EVENTS),
        lambda m: m["type"] == "command_rejected" and m["command_id"] == command_id,
    )
    return found


async def charged(credit: Harness, account: str, amount: str) -> dict[str, Any]:
    sale = authorize(account, amount)
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    assert decision["decision"] == "approved"
    return sale


async def open_items(credit: Harness, account: str) -> dict[str | None, Decimal]:
    async with credit.worker.engine.connect() as conn:
        items = await repository.account_open_items(conn, account)
    return {item.reference: item.open_amount for item in items}


async def test_payment_settles_the_named_sale_then_the_oldest(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    first = await charged(credit, number, "100.00")
    second = await charged(credit, number, "50.00")
    third = await charged(credit, number, "30.00")
    pay = payment(number, "70.00", allocations={third["sale_id"]: "30.00"})
    await credit.command(pay)
    [entry] = await entry_for(credit, number, "payment")
    assert entry["amount"] == "-70.00"
    assert entry["balance_after"] == "110.00"
    assert await open_items(credit, number) == {
        first["sale_id"]: Decimal("60.00"),
        second["sale_id"]: Decimal("50.00"),
    }


async def test_allocation_beyond_a_sales_open_amount_is_rejected(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    sale = await charged(credit, number, "20.00")
    pay = payment(number, "25.00", method="cash", allocations={sale["sale_id"]: "25.00"})
    await credit.command(pay)
    refused = await rejection(credit, pay["command_id"])
    assert refused["reason"] == "allocation_exceeds_open_amount"
    assert await open_items(credit, number) == {sale["sale_id"]: Decimal("20.00")}


async def test_one_payment_per_payment_id(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    await charged(credit, number, "20.00")
    pay = command("record_payment", number, payment_id="P-1", amount="5.00", method="cash")
    await credit.command(pay)
    again = {**pay, "command_id": unique("c-")}
    await credit.command(again)
    refused = await rejection(credit, again["command_id"])
    assert refused["reason"] == "duplicate_payment"
    async with credit.worker.engine.connect() as conn:
        account = await repository.find_account(conn, number)
    assert account is not None and account.balance == Decimal("15.00")


async def test_overpayment_stays_as_credit_and_the_next_charge_uses_it(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, limit="100.00"))
    await credit.command(
        command("record_payment", number, payment_id=unique("P-"), amount="40.00", method="card")
    )
    await entry_for(credit, number, "payment")
    sale = authorize(number, "130.00")
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    # Owing -40, a charge of 130 brings the balance to exactly the limit of 100.
    assert decision["decision"] == "approved"
    assert decision["balance"] == "90.00"
    assert await open_items(credit, number) == {sale["sale_id"]: Decimal("90.00")}


async def test_void_reverses_the_charge_once(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    sale = await charged(credit, number, "60.00")
    void = {**sale, "event_id": unique("e-"), "stage": "voided"}
    await credit.sale(void)
    [reversal] = await entry_for(credit, number, "charge_reversal")
    assert reversal["amount"] == "-60.00"
    assert reversal["balance_after"] == "0.00"
    await credit.sale({**void, "event_id": unique("e-")})
    retry = {**sale, "event_id": unique("e-")}
    await credit.sale(retry)
    await credit.decision(retry["event_id"])
    async with credit.worker.engine.connect() as conn:
        posted = await repository.account_entries(conn, number)
    assert [e.kind for e in posted] == ["charge", "charge_reversal"]
    # The second void found nothing to reverse; it did not fail into the dead letters.
    assert not credit.replies.messages(credit.topic(POS_SALES) + ".dlq")

    assert await open_items(credit, number) == {}


async def test_a_void_of_a_partly_paid_sale_settles_the_oldest_debits_with_the_rest(
    credit: Harness,
) -> None:
    """The void's sale absorbs only what is still open on it: the rest of the reversal goes
    to the oldest debits, which the worker loads only then (a void usually needs none)."""
    number = unique("ACC-")
    await credit.open(open_account(number))
    older = await charged(credit, number, "30.00")
    sale = await charged(credit, number, "60.00")
    newer = await charged(credit, number, "15.00")
    pay = payment(number, "20.00", allocations={sale["sale_id"]: "20.00"})
    await credit.command(pay)
    await entry_for(credit, number, "payment")
    await credit.sale({**sale, "event_id": unique("e-"), "stage": "voided"})
    [reversal] = await entry_for(credit, number, "charge_reversal")
    assert reversal["amount"] == "-60.00"
    assert reversal["balance_after"] == "25.00"
    # 40.00 closes the sale, the other 20.00 goes to the oldest debit.
    assert await open_items(credit, number) == {
        older["sale_id"]: Decimal("10.00"),
        newer["sale_id"]: Decimal("15.00"),
    }


async def test_a_void_leaves_the_accounts_other_debits_alone(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    older = await charged(credit, number, "30.00")
    sale = await charged(credit, number, "60.00")
    await credit.sale({**sale, "event_id": unique("e-"), "stage": "voided"})
    [reversal] = await entry_for(credit, number, "charge_reversal")
    assert reversal["balance_after"] == "30.00"
    assert await open_items(credit, number) == {older["sale_id"]: Decimal("30.00")}


async def test_account_refund_on_a_return_becomes_a_credit_note(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    sale = await charged(credit, number, "80.00")
    returned = {
        **authorize(number, "20.00"),
        "stage": "returned",
        "original_sale_id": sale["sale_id"],
    }
    await credit.sale(returned)
    [note] = await entry_for(credit, number, "credit_note")
    assert note["amount"] == "-20.00"
    assert note["balance_after"] == "60.00"
    assert await open_items(credit, number) == {sale["sale_id"]: Decimal("60.00")}


async def test_completed_sale_never_authorized_is_posted_forced(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, limit="10.00"))
    offline = {**authorize(number, "45.00"), "stage": "completed"}
    await credit.sale(offline)
    [entry] = await entry_for(credit, number, "charge")
    assert entry["forced"] is True
    assert entry["balance_after"] == "45.00"


async def test_completed_after_authorize_posts_nothing_more(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    sale = await charged(credit, number, "12.00")
    await credit.sale({**sale, "event_id": unique("e-"), "stage": "completed"})
    marker = await charged(credit, number, "1.00")
    assert marker
    async with credit.worker.engine.connect() as conn:
        posted = await repository.account_entries(conn, number)
    assert [(e.kind, e.forced) for e in posted] == [("charge", False), ("charge", False)]


async def test_journals_and_credit_notes_move_the_balance(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    await credit.command(
        command("post_journal", number, journal_id="J-1", amount="25.00", memo="freight")
    )
    await credit.command(
        command("issue_credit_note", number, credit_note_id="CN-1", amount="5.00", reason="damaged")
    )
    await credit.command(
        command("post_journal", number, journal_id="J-2", amount="-2.50", memo="rounding")
    )
    [journal_debit, journal_credit] = await entry_for(credit, number, "journal", count=2)
    [note] = await entry_for(credit, number, "credit_note")
    assert journal_debit["amount"] == "25.00" and journal_debit["due_date"]
    assert note["balance_after"] == "20.00"
    assert journal_credit["balance_after"] == "17.50"


async def test_terminate_needs_a_zero_balance_and_write_off_closes(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    await charged(credit, number, "33.00")
    terminate = command("terminate_account", number)
    await credit.command(terminate)
    assert (await rejection(credit, terminate["command_id"]))["reason"] == "balance_not_zero"
    await credit.command(command("write_off_account", number, reason="gone away"))
    [entry] = await entry_for(credit, number, "write_off")
    assert entry["amount"] == "-33.00" and entry["balance_after"] == "0.00"
    changed = await credit.account_event("account_changed", number)
    assert changed["status"] == "terminated"
    sale = authorize(number, "1.00")
    await credit.sale(sale)
    [declined] = await credit.decision(sale["event_id"])
    assert declined["reason"] == "account_terminated"


async def test_suspended_account_declines_and_reactivated_approves(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    await credit.command(command("suspend_account", number, reason="review"))
    await credit.account_event("account_changed", number)
    sale = authorize(number, "10.00")
    await credit.sale(sale)
    [declined] = await credit.decision(sale["event_id"])
    assert declined["reason"] == "account_suspended"
    await credit.command(command("reactivate_account", number))
    await credit.replies.wait_for(
        credit.topic(ACCOUNT_EVENTS),
        lambda m: (
            m["type"] == "account_changed"
            and m["account_number"] == number
            and m["status"] == "active"
        ),
    )
    again = {**sale, "event_id": unique("e-")}
    await credit.sale(again)
    [approved] = await credit.decision(again["event_id"])
    assert approved["decision"] == "approved"


async def test_change_credit_terms_raises_the_limit(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, limit="10.00"))
    await credit.command(command("change_credit_terms", number, credit_limit="500.00"))
    changed = await credit.account_event("account_changed", number)
    assert changed["credit_limit"] == "500.00"
    sale = authorize(number, "200.00")
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    assert decision["decision"] == "approved"
    assert decision["available_credit"] == "300.00"
