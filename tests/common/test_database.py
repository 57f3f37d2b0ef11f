"""Database URLs: a plain URL picks the async driver, anything else is refused early."""

from __future__ import annotations

import pytest

from services.common.database import async_url, create_engine, mask_url
from tests.conftest import create_postgres_database


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://tabs:pw@db:5432/tabs", "postgresql+asyncpg://tabs:pw@db:5432/tabs"),
        ("postgres://tabs@db/tabs", "postgresql+asyncpg://tabs@db/tabs"),
        ("sqlite:///var/tabs.db", "sqlite+aiosqlite:///var/tabs.db"),
        ("sqlite:////abs/tabs.db", "sqlite+aiosqlite:////abs/tabs.db"),
    ],
)
def test_plain_url_gets_the_async_driver(given: str, expected: str) -> None:
    assert async_url(given) == expected


def test_explicit_driver_is_kept_with_its_password() -> None:
    url = "postgresql+asyncpg://tabs:s3cret@db/tabs"
    assert async_url(url) == url


@pytest.mark.parametrize("url", ["mysql://tabs@db/tabs", "oracle+oracledb://tabs@db/tabs"])
def test_unsupported_scheme_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme"):
        async_url(url)


def test_masked_url_hides_the_password_only() -> None:
    assert mask_url("postgresql://tabs:s3cret@db:5432/tabs") == "postgresql://tabs:***@db:5432/tabs"


async def _plan_made_small_then_used_large(url: str, **settings: str) -> str:
    """A key look-up prepared and run while its table holds three rows; then 20,000 rows
    arrive (no ANALYZE since) and the cached plan is shown."""
    engine = create_engine(url, key_lookups_only=True)
    try:
        async with engine.connect() as conn:
            for name, value in settings.items():
                await conn.exec_driver_sql(f"SET {name} = {value}")
            await conn.exec_driver_sql("CREATE TEMPORARY TABLE t (k varchar PRIMARY KEY, v int)")
            await conn.exec_driver_sql("INSERT INTO t VALUES ('a', 1), ('b', 2), ('c', 3)")
            await conn.exec_driver_sql("ANALYZE t")
            await conn.exec_driver_sql(
                "PREPARE look_up(varchar[]) AS SELECT v FROM t WHERE k = ANY($1)"
            )
            await conn.exec_driver_sql("EXECUTE look_up(ARRAY['a'])")
            await conn.exec_driver_sql(
                "INSERT INTO t SELECT 'k' || n, n FROM generate_series(1, 20000) AS n"
            )
            plan = await conn.exec_driver_sql("EXPLAIN EXECUTE look_up(ARRAY['k5'])")
            return "\n".join(row[0] for row in plan)
    finally:
        await engine.dispose()


async def test_key_look_ups_are_planned_once_and_keep_their_index(postgres_server: str) -> None:
    """The unlocked path's engine plans a statement once per connection (generic plans), and a
    plan made while a table was small still uses the index when it is large; without pricing
    sequential scans out, the same plan scans the whole table for ever after."""
    url = await create_postgres_database(postgres_server)
    engine = create_engine(url, key_lookups_only=True)
    try:
        async with engine.connect() as conn:
            shown = [
                (await conn.exec_driver_sql(f"SHOW {name}")).scalar()
                for name in ("plan_cache_mode", "enable_seqscan")
            ]
        assert shown == ["force_generic_plan", "off"]
    finally:
        await engine.dispose()
    assert "Index" in await _plan_made_small_then_used_large(url)
    assert "Seq Scan" in await _plan_made_small_then_used_large(url, enable_seqscan="on")


async def test_other_statements_are_planned_for_their_own_arguments(postgres_server: str) -> None:
    url = await create_postgres_database(postgres_server)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("SHOW plan_cache_mode")).scalar()
        assert mode == "force_custom_plan"
    finally:
        await engine.dispose()
