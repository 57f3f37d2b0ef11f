"""Statements rendered and emailed per minute: the real statements worker, its requests on
statements.requests.v1, and the local SMTP catcher (services/local/mail_catcher.py).

The account events go out first and the worker stores them before the clock starts, so the
figure is about statements only. Then one request per account goes out as a burst. Rendered
is the moment the worker's store holds every statement (each made with its PDF in the
request's transaction); sent is the moment the mail server has every email. Both are counted
from just before the first request was sent. The catcher runs on a thread of its own; this
loop only reads how many messages it has.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.config import BenchConfig
from bench.figures import cpu_per_1000
from bench.phase import PhaseOutcome
from bench.processes import start_workers, stop_workers, wait_ready, worker_env
from bench.records import publish_all
from bench.resources import ResourceMonitor
from bench.stack import Stack
from bench.statement_ledgers import Delivered, LedgerPlan, delivery_problems, ledgers
from services.common.database import create_engine
from services.common.kafka import ensure_topics
from services.local.mail_catcher import CaughtMessage, MailCatcher
from services.statements.tables import statement_entries, statements
from shared.topics import ACCOUNT_EVENTS, STATEMENT_REQUESTS, STATEMENTS_SENT, dead_letter_topic

POLL_INTERVAL_S = 0.05
BUSINESS_TIMEZONE = "Pacific/Auckland"
ROLES = ("statements worker", "broker", "database", "bench")


def delivered(caught: CaughtMessage) -> Delivered:
    message: EmailMessage = caught.message
    attachments = {
        str(part.get_filename()): bytes(part.get_content())
        for part in message.iter_attachments()
        if isinstance(part, EmailMessage)
    }
    return Delivered(caught.rcpt_tos, str(message["To"]), attachments)


def per_minute(count: int, seconds: float | None) -> float:
    return round(count * 60.0 / seconds, 1) if seconds else 0.0


async def statements_run(
    config: BenchConfig,
    stack: Stack,
    database_url: str,
    monitor: ResourceMonitor,
    progress: Progress,
    run_id: str,
) -> PhaseOutcome:
    prefix = f"bench-{run_id}-st."
    consumed = [prefix + t for t in (ACCOUNT_EVENTS, STATEMENT_REQUESTS)]
    topics = [*consumed, prefix + STATEMENTS_SENT, *(dead_letter_topic(t) for t in consumed)]
    await ensure_topics(stack.bootstrap, topics, config.partitions)
    zone = ZoneInfo(BUSINESS_TIMEZONE)
    plan = ledgers(config.statements_accounts, f"{run_id}-", datetime.now(UTC), zone)
    await publish_all(stack.bootstrap, prefix + ACCOUNT_EVENTS, plan.account_events)
    with MailCatcher() as mail:
        env = worker_env(config, bootstrap=stack.bootstrap, topic_prefix=prefix)
        env |= {
            "STATEMENTS_DATABASE_URL": database_url,
            "BUSINESS_TIMEZONE": BUSINESS_TIMEZONE,
            "SMTP_HOST": mail.host,
            "SMTP_PORT": str(mail.port),
            "STATEMENT_FROM": "statements@tabs.localhost",
            "STATEMENT_DELIVERY_INTERVAL_S": str(config.statements_delivery_interval_s),
        }
        workers = start_workers("statements", config.workers, env, stack.work_dir / "logs")
        engine = create_engine(database_url)
        try:
            for n, worker in enumerate(workers, start=1):
                monitor.watch(f"statements worker {n}", "statements worker", worker.process.pid)
            await wait_ready(workers)
            await _stored(engine, plan, config.drain_timeout_s, progress)
            outcome = await _measured(config, stack, plan, engine, mail, monitor, progress, prefix)
        finally:
            await asyncio.to_thread(stop_workers, workers)
            await engine.dispose()
        caught = [delivered(m) for m in mail.messages]
    problems = delivery_problems(plan.recipients, plan.period_end, caught)
    outcome.checks["statements: every account got exactly one email, to its address"] = problems
    outcome.counts["statements emailed"] = len(caught)
    outcome.figures["emails"] = len(caught)
    pdfs = [len(pdf) for mail_ in caught for pdf in mail_.attachments.values()]
    outcome.figures["pdf_kb_mean"] = round(sum(pdfs) / len(pdfs) / 1024, 1) if pdfs else 0.0
    return outcome


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.scalar(select(func.count()).select_from(table))) or 0)


async def _stored(
    engine: AsyncEngine, plan: LedgerPlan, timeout_s: float, progress: Progress
) -> None:
    """Waits until the worker's store holds every entry: the clock has not started yet."""
    task = progress.add_task("statements: ledgers stored", total=plan.entries)
    deadline = time.monotonic() + timeout_s
    while (stored := await _count(engine, statement_entries)) < plan.entries:
        progress.update(task, completed=stored)
        if time.monotonic() > deadline:
            raise TimeoutError(f"the statements worker stored {stored} of {plan.entries} entries")
        await asyncio.sleep(POLL_INTERVAL_S)
    progress.update(task, completed=plan.entries)


async def _measured(
    config: BenchConfig,
    stack: Stack,
    plan: LedgerPlan,
    engine: AsyncEngine,
    mail: MailCatcher,
    monitor: ResourceMonitor,
    progress: Progress,
    prefix: str,
) -> PhaseOutcome:
    total = len(plan.requests)
    rendering = progress.add_task("statements: rendered", total=total)
    sending = progress.add_task("statements: emailed", total=total)
    began = time.monotonic()
    await publish_all(stack.bootstrap, prefix + STATEMENT_REQUESTS, plan.requests)
    deadline = began + config.drain_timeout_s
    rendered_at = sent_at = None
    made = sent = 0
    while sent_at is None and time.monotonic() <= deadline:
        if rendered_at is None:
            made = await _count(engine, statements)
            progress.update(rendering, completed=made)
            rendered_at = time.monotonic() if made >= total else None
        sent = len(mail.messages)
        progress.update(sending, completed=sent)
        sent_at = time.monotonic() if sent >= total else None
        await asyncio.sleep(POLL_INTERVAL_S)
    rendered_s = None if rendered_at is None else rendered_at - began
    sent_s = None if sent_at is None else sent_at - began
    problems = [] if sent_at is not None else [f"{sent} of {total} emailed in time ({made} made)"]
    return PhaseOutcome(
        figures={
            "accounts": total,
            "entries": plan.entries,
            "delivery_interval_s": config.statements_delivery_interval_s,
            "rendered_s": None if rendered_s is None else round(rendered_s, 3),
            "sent_s": None if sent_s is None else round(sent_s, 3),
            "rendered_per_min": per_minute(total, rendered_s),
            "sent_per_min": per_minute(total, sent_s),
            "cpu_s_per_1000": cpu_per_1000(
                monitor, began, sent_at or time.monotonic(), total, ROLES
            ),
        },
        checks={"statements: every request made a statement and an email in time": problems},
    )
