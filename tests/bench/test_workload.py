"""The tills' workload: deterministic, and with every behaviour the ledger must survive."""

from __future__ import annotations

import random

import orjson

from bench.workload import SaleStream, plan_accounts
from shared.sales import SaleEvent


def _stream(seed: int) -> SaleStream:
    plans = plan_accounts(200, random.Random(seed), "t-")
    return SaleStream(plans, tills=20, seed=seed, prefix="t-")


def test_the_same_seed_gives_the_same_messages() -> None:
    assert _stream(3).take(500) == _stream(3).take(500)


def test_duplicates_retries_and_voids_name_earlier_sales() -> None:
    messages = _stream(5).take(3_000)
    events = [orjson.loads(m.value) for m in messages]
    sent_ids: set[str] = set()
    authorized: set[str] = set()
    duplicates = retries = voids = 0
    for event in events:
        SaleEvent.model_validate(event)
        if event["event_id"] in sent_ids:
            duplicates += 1
        elif event["stage"] == "voided":
            voids += 1
            assert event["sale_id"] in authorized
        elif event["sale_id"] in authorized:
            retries += 1
        sent_ids.add(event["event_id"])
        authorized.add(event["sale_id"])
    assert duplicates > 30 and retries > 30 and voids > 30
    assert sum(1 for m in messages if m.decided) == len(messages) - voids


def test_a_tenth_of_accounts_are_restricted_near_their_limit() -> None:
    plans = plan_accounts(2_000, random.Random(1), "t-")
    near = [p for p in plans if p.credit_limit == "300.00"]
    assert 150 < len(near) < 250
    assert all(p.restricted and p.opening_balance == "250.00" for p in near)
