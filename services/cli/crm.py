"""`tabs crm ...`: the CRM's operator commands, against CRM_DATABASE_URL and MAILCHIMP_*.

- `resync`: every customer's member as the CRM says, through batch operations (a backfill
  after an import, or after the audience was cleared), with a progress bar.
- `drift`: where the audience and the CRM disagree (exit status 1 when they do); `--repair`
  fixes each on the side that is wrong.
- `webhook URL`: registers the CRM worker's webhook receiver with the audience.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.clock import SystemClock
from services.common.database import create_engine
from services.common.migrations import upgrade_to_head
from services.common.read_model import ReadModel
from services.crm.app import SPEC
from services.crm.domain.drift import Drift
from services.crm.mailchimp.api import ApiFailure
from services.crm.mailchimp.backfill import Backfill, Report
from services.crm.mailchimp.setup import Mailchimp, build_mailchimp
from services.crm.settings import CrmSettings
from services.crm.views import CustomerViews

app = typer.Typer(no_args_is_help=True, help="The CRM: Mailchimp resync and drift reports.")
console = Console()


def _settings() -> CrmSettings:
    settings = CrmSettings()
    if not settings.mailchimp_configured:
        console.print(
            "[red]Set MAILCHIMP_API_KEY and MAILCHIMP_AUDIENCE_ID (and MAILCHIMP_API_URL)."
        )
        raise typer.Exit(2)
    return settings


def _run(work: Coroutine[Any, Any, int]) -> int:
    """Runs a command; Mailchimp failing for good (after its retries) is reported, not dumped."""
    try:
        return asyncio.run(work)
    except ApiFailure as failure:
        console.print(f"[red]Mailchimp: {failure.reason}")
        return 2


@asynccontextmanager
async def _backfill(settings: CrmSettings) -> AsyncIterator[tuple[Backfill, Mailchimp]]:
    engine: AsyncEngine = create_engine(settings.database_url)
    mailchimp = build_mailchimp(settings)
    # The workers' read model, kept current for what these commands change.
    read_model = ReadModel(
        engine,
        CustomerViews(settings.loyalty_rules.base_tier),
        settings.redis_url,
        key_prefix=f"{settings.topic_prefix}tabs:",
    )
    try:
        await upgrade_to_head(engine, SPEC.migrations, SPEC.version_table)
        yield Backfill(engine, mailchimp, SystemClock(), read_model), mailchimp
    finally:
        await read_model.close()
        await mailchimp.close()
        await engine.dispose()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
def resync(
    only_failed: Annotated[
        bool, typer.Option("--only-failed", help="Only customers whose last sync failed.")
    ] = False,
) -> None:
    """Upsert every customer's member through Mailchimp batch operations."""
    raise typer.Exit(_run(_resync(_settings(), only_failed)))


async def _resync(settings: CrmSettings, only_failed: bool) -> int:
    async with _backfill(settings) as (backfill, _):
        with _progress() as progress:
            task = progress.add_task("customers", total=None)

            def advance(done: float, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = await backfill.resync(advance, only_failed=only_failed)
    _print_report(report)
    return 1 if report.outcomes["failed"] or report.outcomes["retry"] else 0


@app.command()
def drift(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what disagrees.")] = False,
) -> None:
    """Report where the Mailchimp audience and the CRM disagree; exit 1 if they do."""
    raise typer.Exit(_run(_drift(_settings(), repair)))


async def _drift(settings: CrmSettings, repair: bool) -> int:
    async with _backfill(settings) as (backfill, _):
        with console.status("reading the audience"):
            drifts, audience = await backfill.drift()
        _print_drift(drifts)
        if not drifts:
            return 0
        if not repair:
            return 1
        with _progress() as progress:
            task = progress.add_task("repairs", total=None)

            def advance(done: float, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = await backfill.repair(drifts, audience, advance)
        _print_report(report)
        return 1 if report.outcomes["failed"] or report.outcomes["retry"] else 0


@app.command()
def webhook(
    url: Annotated[
        str, typer.Argument(help="The receiver: https://host/webhooks/mailchimp/SECRET")
    ],
) -> None:
    """Register the worker's webhook receiver for unsubscribes and cleaned addresses."""
    raise typer.Exit(_run(_webhook(_settings(), url)))


async def _webhook(settings: CrmSettings, url: str) -> int:
    async with _backfill(settings) as (_, mailchimp):
        api, audience_id = mailchimp.api, mailchimp.api.audience_id
        hooks: dict[str, Any] = await api.call(lambda c: c.lists.get_list_webhooks(audience_id))
        if any(h.get("url") == url for h in hooks.get("webhooks", [])):
            console.print("The webhook is registered already.")
            return 0
        body = {
            "url": url,
            "events": {"unsubscribe": True, "cleaned": True},
            # Changes the CRM makes through the API must not come back as events.
            "sources": {"user": True, "admin": True, "api": False},
        }
        await api.call(lambda c: c.lists.create_list_webhook(audience_id, body))
        console.print("Webhook registered.")
        return 0


def _print_drift(drifts: list[Drift]) -> None:
    if not drifts:
        console.print("[green]The audience and the CRM agree.")
        return
    table = Table(title=f"{len(drifts)} disagreements")
    for column in ("kind", "email", "customer", "detail"):
        table.add_column(column)
    for d in drifts:
        table.add_row(d.kind, d.email, d.customer_id or "-", d.detail)
    console.print(table)


def _print_report(report: Report) -> None:
    counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(report.outcomes.items()))
    console.print(f"Done. {counts or 'nothing to do'}")
    if report.errors:
        table = Table(title="Errors")
        table.add_column("customer")
        table.add_column("error")
        for customer_id, error in report.errors:
            table.add_row(customer_id, error)
        console.print(table)
