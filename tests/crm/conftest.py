"""The CRM's test surroundings: the Mailchimp stand-in (one per session, reset per test) and
databases for workers that a whole module shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.local.mailchimp import MailchimpServer
from tests.conftest import create_postgres_database

# A Monday in the business time zone's summer, away from any month end.
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
async def mailchimp_stand_in() -> AsyncIterator[MailchimpServer]:
    async with MailchimpServer() as server:
        yield server


@pytest.fixture
async def mailchimp(mailchimp_stand_in: MailchimpServer) -> MailchimpServer:
    """The stand-in, reset: an empty audience and its default limits."""
    async with httpx.AsyncClient() as client:
        (await client.post(f"{mailchimp_stand_in.url}/_admin/reset")).raise_for_status()
    return mailchimp_stand_in


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
async def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A new, empty database for a module's shared worker, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('crm') / 'tabs.db'}"
    return await create_postgres_database(request.getfixturevalue("postgres_server"))
