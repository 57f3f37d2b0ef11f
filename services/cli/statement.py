"""`tabs statement ACC --period-end DATE --out FILE.pdf`: a statement as a PDF, from the
statements worker's own store (STATEMENTS_DATABASE_URL).

The statement of a period that was already made is written as it was made (what the customer
got); otherwise the period is rendered from the store as a preview, and nothing is recorded.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from services.common.clock import SystemClock
from services.common.database import create_engine, mask_url
from services.statements.app import issuer
from services.statements.domain.schedule import (
    last_closed_day,
    period_end_before,
    period_ending,
)
from services.statements.issuing import statement_id_for
from services.statements.ledger_repository import find_account
from services.statements.settings import StatementsSettings
from services.statements.statement_repository import find_statement


def statement(
    account_number: Annotated[str, typer.Argument(help="The account.")],
    period_end: Annotated[
        str | None,
        typer.Option(
            "--period-end",
            help="The last day of the period, YYYY-MM-DD. Default: the account's latest "
            "period end that is over.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")] = Path(
        "statement.pdf"
    ),
) -> None:
    """Write an account's statement as a PDF: as it was made, or else a preview."""
    end = _day(period_end) if period_end is not None else None
    settings = StatementsSettings()
    try:
        pdf, message = asyncio.run(_render(settings, account_number, end))
    except LookupError as missing:
        typer.echo(str(missing), err=True)
        raise typer.Exit(1) from missing
    except DBAPIError as error:
        where = mask_url(settings.database_url)
        typer.echo(f"cannot read the statements store at {where}: {error.orig}", err=True)
        raise typer.Exit(2) from error
    out.write_bytes(pdf)
    typer.echo(f"wrote {out}: {message}")


async def _render(
    settings: StatementsSettings, account_number: str, end: date | None
) -> tuple[bytes, str]:
    made = issuer(settings)
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            account = await find_account(conn, account_number)
            if account is None:
                raise LookupError(f"no account {account_number} in the statements store")
            if end is None:
                last_closed = last_closed_day(SystemClock().now(), made.zone, timedelta(0))
                end = period_end_before(account.frequency, last_closed + timedelta(days=1))
            issued = await find_statement(conn, account_number, end)
            if issued is not None:
                made_on = f"{issued.created_at.astimezone(made.zone):%Y-%m-%d}"
                return issued.pdf, (
                    f"statement {issued.statement_id} as made on {made_on} ({issued.status})"
                )
            period = period_ending(account.frequency, end)
            stated = await made.state(conn, account, period)
    finally:
        await engine.dispose()
    statement_id = statement_id_for(account_number, end)
    document = made.renderer.render(stated, statement_id, account.statement_email)
    preview = f"preview of {statement_id} ({period.start} to {period.end}), not issued"
    return document.pdf, preview


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a date such as 2026-11-30") from error
