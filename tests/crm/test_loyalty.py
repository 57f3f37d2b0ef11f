"""Loyalty end to end through the real broker and database (PostgreSQL and SQLite), with a clock
the test sets: earn, redeem, reverse, expire, tiers, and one effect per event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from services.common.clock import SetClock
from services.crm import loyalty_repository
from services.local.mailchimp import MailchimpServer
from shared.topics import CRM_LOYALTY, POS_SALES
from tests.crm.conftest import START
from tests.crm.harness import Crm, crm_harness, crm_settings, eventually, runtime_settings
from tests.crm.sales import return_of, sale, void_of
from tests.support.naming import unique

RULES = {
    "category_multipliers": {"tools": "2"},
    "bonuses": [{"kind": "birthday_month", "multiplier": "3"}],
    "tiers": [{"name": "member", "min_spend": "0"}, {"name": "silver", "min_spend": "500"}],
    "expiry_days": 365,
}


@pytest.fixture(scope="module")
async def loyal(
    kafka_bootstrap: str,
    redis_url: str,
    module_database_url: str,
    mailchimp_stand_in: MailchimpServer,
) -> AsyncIterator[Crm]:
    """One worker for the module, on each backend. Tests keep apart by customer; every sale is
    dated by the worker's clock, which the expiry and tier tests move forward for everyone."""
    base = runtime_settings(kafka_bootstrap, redis_url)
    config = crm_settings(base, mailchimp_stand_in, LOYALTY_RULES=RULES)
    clock = SetClock(START)
    async with crm_harness(config, module_database_url, mailchimp_stand_in, clock) as harness:
        yield harness


async def test_cash_sale_earns_points_and_counts_spend(loyal: Crm) -> None:
    customer = unique("C-")
    first = await loyal.sale(sale(customer, [("cash", "125.50")], occurred_at=loyal.now()))
    [earned] = await loyal.loyalty(customer, "points_earned")
    assert (earned["points"], earned["balance"], earned["sale_id"]) == (125, 125, first["sale_id"])
    # Tools earn double, in proportion to their line: 50 x 2 + 50 x 1 on the card part only.
    await loyal.sale(
        sale(
            customer,
            [("card", "100.00"), ("voucher", "20.00")],
            lines=[("tools", "60.00"), ("garden", "60.00")],
            occurred_at=loyal.now(),
        )
    )
    second = await loyal.loyalty(customer, "points_earned", count=2)
    assert (second[1]["points"], second[1]["balance"]) == (150, 275)
    view = await loyal.view_when(customer, lambda v: v["points_balance"] == 275)
    assert (view["lifetime_spend"], view["visits"], view["tier"]) == ("245.50", 2, "member")


async def test_birthday_month_triples_the_points(loyal: Crm) -> None:
    customer = unique("C-")
    month = loyal.clock.now().astimezone(ZoneInfo(loyal.settings.business_timezone)).month
    await loyal.customer(customer, birthday=f"1990-{month:02d}-02")
    await loyal.view_when(customer, lambda v: v["customer_id"] == customer)
    await loyal.sale(sale(customer, [("eftpos", "10.00")], occurred_at=loyal.now()))
    [earned] = await loyal.loyalty(customer, "points_earned")
    assert earned["points"] == 30


async def test_points_tender_redeems_then_the_rest_earns(loyal: Crm) -> None:
    customer = unique("C-")
    await loyal.sale(sale(customer, [("cash", "300.00")], occurred_at=loyal.now()))
    await loyal.loyalty(customer, "points_earned")
    redeeming = await loyal.sale(
        sale(customer, [("points", "2.50"), ("cash", "7.50")], occurred_at=loyal.now())
    )
    [redeemed] = await loyal.loyalty(customer, "points_redeemed")
    assert (redeemed["points"], redeemed["balance"]) == (-250, 50)
    assert redeemed["sale_id"] == redeeming["sale_id"]
    earned = await loyal.loyalty(customer, "points_earned", count=2)
    assert (earned[1]["points"], earned[1]["balance"]) == (7, 57)


async def test_redeeming_more_than_the_balance_is_dead_lettered_and_earns_nothing(
    loyal: Crm,
) -> None:
    customer = unique("C-")
    await loyal.sale(sale(customer, [("cash", "50.00")], occurred_at=loyal.now()))
    await loyal.loyalty(customer, "points_earned")
    greedy = await loyal.sale(
        sale(customer, [("points", "1.00"), ("cash", "99.00")], occurred_at=loyal.now())
    )
    letter = await loyal.dead_letter(POS_SALES, lambda d: greedy["sale_id"] in d["error"])
    assert "redeems 100 points" in letter["error"] and "has 50" in letter["error"]
    assert orjson.loads(letter["original_text"])["event_id"] == greedy["event_id"]
    later = await loyal.sale(sale(customer, [("cash", "1.00")], occurred_at=loyal.now()))
    earned = await loyal.loyalty(customer, "points_earned", count=2)
    assert earned[1]["sale_id"] == later["sale_id"]
    assert all(m["sale_id"] != greedy["sale_id"] for m in loyal.loyalty_of(customer))
    view = await loyal.view_when(customer, lambda v: v["visits"] == 2)
    assert (view["points_balance"], view["lifetime_spend"]) == (51, "51.00")


async def test_void_gives_back_redeemed_points_and_takes_back_earned_ones(loyal: Crm) -> None:
    customer = unique("C-")
    await loyal.sale(sale(customer, [("cash", "100.00")], occurred_at=loyal.now()))
    await loyal.loyalty(customer, "points_earned")
    mixed = await loyal.sale(
        sale(customer, [("points", "0.40"), ("card", "20.00")], occurred_at=loyal.now())
    )
    await loyal.loyalty(customer, "points_earned", count=2)
    await loyal.sale(void_of(mixed))
    reversed_ = await loyal.loyalty(customer, "points_reversed", count=2)
    assert [(m["points"], m["balance"]) for m in reversed_] == [(40, 120), (-20, 100)]
    again = void_of(mixed)  # a second void of the same sale, under a new event id
    await loyal.sale(again)
    view = await loyal.view_when(customer, lambda v: v["visits"] == 1)
    assert (view["points_balance"], view["lifetime_spend"]) == (100, "100.00")
    assert len(loyal.loyalty_of(customer)) == 5


async def test_returns_reverse_points_in_proportion_once_per_return(loyal: Crm) -> None:
    customer = unique("C-")
    bought = await loyal.sale(sale(customer, [("cash", "90.00")], occurred_at=loyal.now()))
    await loyal.loyalty(customer, "points_earned")
    partial = return_of(bought, [("cash", "30.00")])
    await loyal.sale(partial)
    [first] = await loyal.loyalty(customer, "points_reversed")
    assert (first["points"], first["balance"], first["sale_id"]) == (-30, 60, partial["sale_id"])
    await loyal.sale({**partial, "event_id": unique("e-")})  # the same return resent
    await loyal.sale(return_of(bought, [("cash", "60.00")]))
    second = await loyal.loyalty(customer, "points_reversed", count=2)
    assert (second[1]["points"], second[1]["balance"]) == (-60, 0)
    view = await loyal.view_when(customer, lambda v: v["lifetime_spend"] == "0.00")
    assert view["points_balance"] == 0 and len(loyal.loyalty_of(customer)) == 3


async def test_points_expire_oldest_first_after_the_period(loyal: Crm) -> None:
    customer = unique("C-")
    await loyal.sale(sale(customer, [("cash", "100.00")], occurred_at=loyal.now()))
    await loyal.loyalty(customer, "points_earned")
    loyal.clock.advance(timedelta(days=200))
    await loyal.sale(sale(customer, [("cash", "40.00")], occurred_at=loyal.now()))
    await loyal.loyalty(customer, "points_earned", count=2)
    loyal.clock.advance(timedelta(days=166))  # the first lot is 366 days old, the second 166
    [expired] = await loyal.loyalty(customer, "points_expired")
    assert (expired["points"], expired["balance"], expired["sale_id"]) == (-100, 40, None)
    await loyal.view_when(customer, lambda v: v["points_balance"] == 40)


async def test_tier_rises_with_spend_and_falls_as_it_leaves_the_window(
    loyal: Crm,
) -> None:
    customer = unique("C-")
    await loyal.sale(sale(customer, [("cash", "300.00")], occurred_at=loyal.now()))
    await loyal.loyalty(customer, "points_earned")
    loyal.clock.advance(timedelta(days=100))
    big = await loyal.sale(sale(customer, [("card", "250.00")], occurred_at=loyal.now()))
    [up] = await loyal.loyalty(customer, "tier_changed")
    assert (up["tier"], up["points"], up["balance"], up["sale_id"]) == (
        "silver",
        0,
        550,
        big["sale_id"],
    )
    loyal.clock.advance(timedelta(days=300))  # the first sale left the 365-day window
    changes = await loyal.loyalty(customer, "tier_changed", count=2)
    assert changes[1]["tier"] == "member"
    await loyal.view_when(customer, lambda v: v["tier"] == "member")


async def test_a_message_delivered_twice_has_its_effect_once(loyal: Crm) -> None:
    customer = unique("C-")
    bought = sale(customer, [("cash", "10.00")], occurred_at=loyal.now())
    await loyal.sale(bought)
    await loyal.sale(bought)  # the same event id: its replies are published again
    await loyal.sale({**bought, "event_id": unique("e-")})  # the same sale under a new id
    earned = await loyal.loyalty(customer, "points_earned", count=2)
    assert earned[0] == earned[1]
    await loyal.output.settle(0.5)
    view: dict[str, Any] = await loyal.view_when(customer, lambda v: v["visits"] == 1)
    assert view["points_balance"] == 10
    assert len(loyal.loyalty_of(customer)) == 2
    assert {
        m["event_id"]
        for m in loyal.output.messages(loyal.topic(CRM_LOYALTY))
        if m["customer_id"] == customer
    } == {earned[0]["event_id"]}


async def test_a_void_that_overtakes_its_sale_cancels_it(loyal: Crm) -> None:
    customer = unique("C-")
    bought = sale(customer, [("cash", "20.00")], occurred_at=loyal.now())
    # Without a customer the void is keyed by sale_id: another partition, so it may come first.
    await loyal.sale({**void_of(bought), "customer_id": None})

    async def void_applied() -> bool:
        async with loyal.worker.engine.connect() as conn:
            found = await loyalty_repository.voided_before_completion(conn, [bought["sale_id"]])
        return bool(found)

    await eventually(void_applied)
    await loyal.sale(bought)
    later = await loyal.sale(sale(customer, [("cash", "1.00")], occurred_at=loyal.now()))
    [earned] = await loyal.loyalty(customer, "points_earned")
    assert earned["sale_id"] == later["sale_id"]
    view = await loyal.view_when(customer, lambda v: v["visits"] == 1)
    assert (view["lifetime_spend"], view["points_balance"]) == ("1.00", 1)
