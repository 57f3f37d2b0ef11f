"""Session-wide real parts: the Tansu broker, PostgreSQL and Redis, started from their wheels.

Servers named by TABS_TEST_KAFKA_BOOTSTRAP, TABS_TEST_POSTGRES_URL or TABS_TEST_REDIS_URL are
used instead. Each test isolates itself: its own database, its own topic prefix.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from services.common.settings import RuntimeSettings
from services.local.broker import EmbeddedBroker
from services.local.postgres import EmbeddedPostgres
from services.local.redis import EmbeddedRedis
from tests.support.naming import unique


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("TABS_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    with EmbeddedBroker(tmp_path_factory.mktemp("tansu")) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL of a PostgreSQL server on which tests may create databases."""
    external = os.environ.get("TABS_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    with EmbeddedPostgres(tmp_path_factory.mktemp("postgres"), durable=False) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("TABS_TEST_REDIS_URL")
    if external:
        yield external
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


async def create_postgres_database(server_url: str) -> str:
    name = unique("tabs_test_")
    plain = server_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, _ = plain.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(params=["postgresql", "sqlite"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database for this test, on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tabs.db'}"
        return
    yield await create_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def settings(kafka_bootstrap: str) -> RuntimeSettings:
    """Runtime settings for one test: its own topics and group, fast group joins."""
    return RuntimeSettings.model_validate(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "TABS_TOPIC_PREFIX": unique("t") + ".",
            "TABS_CONSUMER_GROUP_PREFIX": unique("g"),
            "HTTP_PORT": 0,
            "API_TOKENS": "test-token",
            "TOPIC_PARTITIONS": 3,
            # Tansu holds a group join for half the session timeout; see ../shared/BROKER.md.
            "KAFKA_SESSION_TIMEOUT_MS": 3000,
            "KAFKA_HEARTBEAT_INTERVAL_MS": 300,
            "KAFKA_FETCH_MAX_WAIT_MS": 10,
            "TABS_RETRY_BACKOFF_MAX_S": 0.5,
        }
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a test that does not exist: the run fails."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
