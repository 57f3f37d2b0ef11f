"""A tally service's surroundings for each test, on both databases or on PostgreSQL only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.common.settings import RuntimeSettings
from tests.common.harness import Tally, tally_harness
from tests.conftest import create_postgres_database


@pytest.fixture
async def tally(settings: RuntimeSettings, database_url: str) -> AsyncIterator[Tally]:
    async with tally_harness(settings, database_url) as harness:
        yield harness


@pytest.fixture
async def postgres_url(postgres_server: str) -> str:
    """A new, empty PostgreSQL database, for what only PostgreSQL can show."""
    return await create_postgres_database(postgres_server)


@pytest.fixture
async def tally_on_postgres(settings: RuntimeSettings, postgres_url: str) -> AsyncIterator[Tally]:
    async with tally_harness(settings, postgres_url) as harness:
        yield harness
