"""`tabs statement`: a preview from the worker's store, or the statement as it was made."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from services.cli.main import app
from shared.account_events import AccountEvent
from tests.statements.harness import AFTER_NOVEMBER, AUCKLAND, Books
from tests.statements.pdf_text import pdf_text
from tests.statements.store import apply, migrated
from tests.statements.test_scheduler import scheduler

NUMBER = "ACC-0042"


async def store_with_a_month(url: str, *, state_it: bool) -> None:
    books = Books()
    at = datetime(2026, 11, 9, 14, tzinfo=AUCKLAND)
    events: list[AccountEvent] = [
        books.opened(NUMBER, at=at, name="Tōtara Builders"),
        books.posted(NUMBER, "charge", "230.00", at, "S-2001"),
        books.posted(NUMBER, "payment", "-30.00", at + timedelta(days=2), "PAY-9"),
    ]
    async with migrated(url) as engine:
        await apply(engine, events, at)
        if state_it:
            await scheduler(engine).make_due_statements(AFTER_NOVEMBER)


def test_preview_of_a_period_never_stated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'statements.db'}"
    asyncio.run(store_with_a_month(url, state_it=False))
    out = tmp_path / "preview.pdf"

    result = CliRunner().invoke(
        app,
        ["statement", NUMBER, "--period-end", "2026-11-30", "--out", str(out)],
        env={"STATEMENTS_DATABASE_URL": url, "STATEMENT_BUSINESS_NAME": "Kauri Hardware Ltd"},
    )

    assert result.exit_code == 0, result.output
    assert "preview of ACC-0042/2026-11-30 (2026-11-01 to 2026-11-30), not issued" in result.output
    text = pdf_text(out.read_bytes())
    assert "Kauri Hardware Ltd" in text
    assert "Totara Builders" in text
    assert "S-2001" in text and "PAY-9" in text
    assert "200.00" in text


def test_stated_period_is_written_as_it_was_made(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'statements.db'}"
    asyncio.run(store_with_a_month(url, state_it=True))
    out = tmp_path / "made.pdf"

    result = CliRunner().invoke(
        app,
        ["statement", NUMBER, "--period-end", "2026-11-30", "--out", str(out)],
        env={"STATEMENTS_DATABASE_URL": url},
    )

    assert result.exit_code == 0, result.output
    assert "statement ACC-0042/2026-11-30 as made on 2026-12-01 (pending)" in result.output
    assert "Kauri Hardware Ltd" in pdf_text(out.read_bytes())


def test_unknown_account_and_bad_date_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'statements.db'}"
    asyncio.run(store_with_a_month(url, state_it=False))
    runner = CliRunner()

    unknown = runner.invoke(app, ["statement", "ACC-NONE"], env={"STATEMENTS_DATABASE_URL": url})
    bad_date = runner.invoke(app, ["statement", NUMBER, "--period-end", "30/11/2026"])

    assert unknown.exit_code == 1
    assert "no account ACC-NONE in the statements store" in unknown.output
    assert bad_date.exit_code == 2
    assert "is not a date" in bad_date.output
