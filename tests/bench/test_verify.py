"""The end-of-run check fails a run whose ledger or decisions do not hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.loadgen import Received
from bench.verify import verify
from services.common.database import create_engine
from services.credit.tables import accounts, entries, metadata, sale_charges

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'credit.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def _decision(event: str, sale: str, verdict: str = "approved") -> Received:
    reason = None if verdict == "approved" else "insufficient_credit"
    value = {"request_event_id": event, "sale_id": sale, "decision": verdict, "reason": reason}
    return Received(1.0, event, orjson.dumps(value))


async def _ledger(engine: AsyncEngine, balance: int, charges: list[tuple[str, int]]) -> None:
    account: dict[str, Any] = {
        "account_number": "A1",
        "name": "n",
        "currency": "NZD",
        "status": "active",
        "credit_limit": 1_000_000,
        "restrict_credit": True,
        "credit_period_days": 30,
        "settlement_every": 1,
        "settlement_unit": "month",
        "settlement_anchor": date(2026, 12, 1),
        "statement_email": "a@b.example",
        "balance": balance,
        "opened_at": NOW,
    }
    async with engine.begin() as conn:
        await conn.execute(insert(accounts).values(account))
        for sale, amount in charges:
            entry = {"account_number": "A1", "amount": amount, "balance_after": 0}
            entry |= {"entry_id": f"x-{sale}", "kind": "charge", "reference": sale}
            await conn.execute(insert(entries).values(posted_at=NOW, forced=False, **entry))
            await conn.execute(
                insert(sale_charges).values(
                    sale_id=sale,
                    account_number="A1",
                    amount=amount,
                    entry_id=f"x-{sale}",
                    request_event_id=sale,
                    charged_at=NOW,
                )
            )


async def test_a_consistent_run_passes(engine: AsyncEngine) -> None:
    await _ledger(engine, 300, [("s1", 100), ("s2", 200)])
    received = [_decision("e1", "s1"), _decision("e2", "s2"), _decision("e2", "s2")]
    result = await verify(engine, ["e1", "e2"], received)
    assert result.passed, result.problems


async def test_a_balance_off_its_entries_fails(engine: AsyncEngine) -> None:
    await _ledger(engine, 301, [("s1", 100), ("s2", 200)])
    result = await verify(engine, ["e1", "e2"], [_decision("e1", "s1"), _decision("e2", "s2")])
    assert not result.checks["every balance is the sum of its entries"]
    assert not result.passed


async def test_a_request_without_a_decision_or_with_two_fails(engine: AsyncEngine) -> None:
    await _ledger(engine, 100, [("s1", 100)])
    received = [_decision("e1", "s1"), _decision("e1", "s1", "declined")]
    result = await verify(engine, ["e1", "e2"], received)
    assert not result.checks["every request has a decision"]
    assert not result.checks["all decisions for a request are identical"]


async def test_an_approved_sale_left_uncharged_fails(engine: AsyncEngine) -> None:
    await _ledger(engine, 100, [("s1", 100)])
    result = await verify(engine, ["e1", "e2"], [_decision("e1", "s1"), _decision("e2", "s2")])
    assert not result.checks["each approved sale is charged once"]
    assert any("s2 approved, not charged" in p for p in result.problems)


async def test_a_charge_of_a_missing_entry_or_account_fails(engine: AsyncEngine) -> None:
    """The ledger tables have no foreign keys (tables.py): the check is the bench's."""
    await _ledger(engine, 100, [("s1", 100)])
    async with engine.begin() as conn:
        stray = {"account_number": "A9", "amount": 5, "entry_id": "x-gone"}
        stray |= {"sale_id": "s9", "request_event_id": "e9", "charged_at": NOW}
        await conn.execute(insert(sale_charges).values(stray))
    result = await verify(engine, ["e1"], [_decision("e1", "s1")])
    assert not result.checks["nothing refers to a missing account or entry"]
    assert any("sale charge s9 names a missing account A9" in p for p in result.problems)
    assert any("sale charge s9 names a missing entry x-gone" in p for p in result.problems)
