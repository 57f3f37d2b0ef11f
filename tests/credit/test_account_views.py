"""The account views in Redis, kept by several workers at once: every change to an account
adds one to its version, and a view read before another worker's commit never replaces the one
that commit's refresh wrote (real views, a real database, a real pipeline, a real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.database import create_engine
from services.common.migrations import upgrade_to_head
from services.common.read_model import ReadModel
from services.credit.app import SPEC
from services.credit.views import AccountViews
from tests.support.credit import authorize, open_account
from tests.support.credit_pipeline import Worker
from tests.support.naming import unique
from tests.support.read_model import HeldAfterFirstRead


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade_to_head(engine, SPEC.migrations, SPEC.version_table)
    yield engine
    await engine.dispose()


async def version_of(engine: AsyncEngine, number: str) -> int:
    async with engine.connect() as conn:
        views = await AccountViews().build(conn, [number])
    version = views[number]["version"]
    assert isinstance(version, int)
    return version


@pytest.mark.parametrize("unlocked_reads", [True, False], ids=["unlocked", "locking"])
async def test_every_change_to_an_account_adds_one_to_its_version(
    engine: AsyncEngine, unlocked_reads: bool
) -> None:
    number = unique("ACC-")
    worker = Worker(engine, unlocked_reads=unlocked_reads)
    await worker.handle(open_account(number, limit="100.00"))
    opened = await version_of(engine, number)
    await worker.handle(authorize(number, "60.00"))
    assert await version_of(engine, number) == opened + 1
    await worker.handle(authorize(number, "60.00"))  # declined: nothing changes
    assert await version_of(engine, number) == opened + 1
    await worker.handle(
        {
            "command_id": unique("c-"),
            "issued_at": "2026-11-22T09:00:00+13:00",
            "issued_by": "back-office",
            "type": "suspend_account",
            "account_number": number,
        }
    )
    assert await version_of(engine, number) == opened + 2


class SlowToWrite(HeldAfterFirstRead, AccountViews):
    """The real account views, whose first build, once read, waits before it is written."""

    def __init__(self) -> None:
        self.hold_first_read()


async def test_a_view_read_before_another_workers_commit_does_not_replace_its_refresh(
    engine: AsyncEngine, redis_url: str
) -> None:
    """A worker starting rebuilds an account's view (balance 0.00) and is slow to write it;
    meanwhile another worker charges the account and refreshes the view (60.00). The stale
    view, written last, must not replace it."""
    number = unique("ACC-")
    worker = Worker(engine)
    await worker.handle(open_account(number, limit="100.00"))
    prefix = f"{unique('t')}:"
    slow = SlowToWrite()
    starting = ReadModel(engine, slow, redis_url, key_prefix=prefix)
    committing = ReadModel(engine, AccountViews(), redis_url, key_prefix=prefix)
    try:
        rebuilding = asyncio.create_task(starting.refresh([number]))
        await slow.read.wait()
        await worker.handle(authorize(number, "60.00"))
        await committing.committed(worker.published.messages[-2:])
        slow.release.set()
        await rebuilding
        for model in (starting, committing):
            view = await model.get(number)
            assert view is not None
            assert (view["balance"], view["version"]) == ("60.00", await version_of(engine, number))
    finally:
        await starting.close()
        await committing.close()
