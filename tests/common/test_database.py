"""Database URLs: a plain URL picks the async driver, anything else is refused early."""

from __future__ import annotations

import pytest

from services.common.database import async_url, mask_url


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
