"""The credit path end to end through the real broker and database (PostgreSQL and SQLite)."""

from __future__ import annotations

from decimal import Decimal

import orjson
from sqlalchemy import func, select

from services.credit import repository
from services.credit.tables import entries
from shared.topics import ACCOUNT_COMMANDS, ACCOUNT_EVENTS, POS_SALES
from tests.support.credit import Harness, authorize, open_account
from tests.support.naming import unique


async def test_open_account_publishes_account_opened(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.command(open_account(number, opening_balance="300.00"))
    opened = await credit.account_event("account_opened", number)
    assert opened["status"] == "active"
    assert opened["credit_limit"] == "1000.00"
    assert opened["currency"] == "NZD"
    entry = (await credit.account_event("entry_posted", number))["entry"]
    assert entry["kind"] == "opening_balance"
    assert entry["amount"] == "300.00"
    assert entry["balance_after"] == "300.00"


async def test_authorize_approves_and_posts_the_charge(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, opening_balance="300.00"))
    sale = authorize(number, "125.50")
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    assert decision["decision"] == "approved"
    assert decision["reason"] is None
    assert decision["balance"] == "425.50"
    assert decision["credit_limit"] == "1000.00"
    assert decision["available_credit"] == "574.50"
    assert decision["over_limit"] is False
    assert decision["decided_at"].endswith("+13:00")
    entry = await credit.replies.wait_for(
        credit.topic(ACCOUNT_EVENTS),
        lambda m: m["type"] == "entry_posted" and m["entry"]["reference"] == sale["sale_id"],
    )
    assert entry[0]["entry"]["kind"] == "charge"
    assert entry[0]["entry"]["amount"] == "125.50"
    assert entry[0]["entry"]["forced"] is False


async def test_restricted_account_approved_at_limit_and_declined_a_cent_over(
    credit: Harness,
) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, limit="100.00"))
    over = authorize(number, "100.01")
    await credit.sale(over)
    [declined] = await credit.decision(over["event_id"])
    assert declined["decision"] == "declined"
    assert declined["reason"] == "insufficient_credit"
    assert declined["balance"] == "0.00"
    exact = authorize(number, "100.00")
    await credit.sale(exact)
    [approved] = await credit.decision(exact["event_id"])
    assert approved["decision"] == "approved"
    assert approved["balance"] == "100.00"
    assert approved["available_credit"] == "0.00"


async def test_unrestricted_account_goes_over_limit_flagged(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, limit="50.00", restrict=False))
    sale = authorize(number, "80.00")
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    assert decision["decision"] == "approved"
    assert decision["over_limit"] is True
    assert decision["available_credit"] == "-30.00"


async def test_same_event_twice_has_one_effect_and_the_same_decision(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    sale = authorize(number, "40.00")
    await credit.sale(sale)
    await credit.decision(sale["event_id"])
    await credit.sale(sale)
    first, second = await credit.decision(sale["event_id"], count=2)
    assert first == second
    async with credit.worker.engine.connect() as conn:
        account = await repository.find_account(conn, number)
        charges = await conn.scalar(
            select(func.count()).select_from(entries).where(entries.c.account_number == number)
        )
    assert account is not None and account.balance == Decimal("40.00")
    assert charges == 1


async def test_approved_sale_id_is_charged_once(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    sale = authorize(number, "40.00")
    await credit.sale(sale)
    await credit.decision(sale["event_id"])
    retry = {**sale, "event_id": unique("e-")}
    await credit.sale(retry)
    [again] = await credit.decision(retry["event_id"])
    assert again["decision"] == "approved"
    assert again["balance"] == "40.00"
    async with credit.worker.engine.connect() as conn:
        posted = await repository.account_entries(conn, number)
    assert [e.kind for e in posted] == ["charge"]


async def test_invalid_sale_goes_to_dead_letters_and_the_next_one_is_decided(
    credit: Harness,
) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number))
    bad = authorize(number, "10.00")
    bad["total"] = 10.0  # a JSON float has already lost cents
    raw = orjson.dumps(bad)
    await credit.sale(raw, key=number)
    await credit.sale(b"{not json", key=number)
    good = authorize(number, "10.00")
    await credit.sale(good)
    [decision] = await credit.decision(good["event_id"])
    assert decision["decision"] == "approved"
    [rejected] = await credit.decision(bad["event_id"])
    assert rejected["decision"] == "declined"
    assert rejected["reason"] == "invalid_request"
    letters = await credit.replies.wait_for(
        credit.topic(POS_SALES) + ".dlq", lambda m: True, count=2
    )
    assert letters[0]["consumer_group"] == credit.settings.consumer_group_prefix + "-credit"
    assert "total" in letters[0]["error"]
    assert letters[0]["failed_at"]
    originals = {letter["original_text"] for letter in letters}
    assert raw.decode() in originals and "{not json" in originals


async def test_invalid_command_is_rejected_and_dead_lettered(credit: Harness) -> None:
    number = unique("ACC-")
    command = open_account(number)
    del command["currency"]
    await credit.command(command)
    rejected = await credit.account_event("command_rejected", number)
    assert rejected["command_id"] == command["command_id"]
    assert rejected["reason"] == "invalid_command"
    assert "currency" in rejected["detail"]
    await credit.replies.wait_for(credit.topic(ACCOUNT_COMMANDS) + ".dlq", lambda m: True)


async def test_a_started_worker_has_its_unlocked_connections_open(credit: Harness) -> None:
    """The first sales after a start do not wait for PostgreSQL backends to be started: the
    unlocked path's pool (PostgreSQL only) holds one open connection per consumer."""
    engine = credit.worker.unlocked_engine
    if credit.worker.engine.dialect.name == "sqlite":
        assert engine is None  # every batch takes the locking path there
        return
    assert engine is not None
    assert engine.pool.checkedin() == credit.settings.consumers >= 1  # type: ignore[attr-defined]
