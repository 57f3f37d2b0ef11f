"""Mailchimp API calls per 1,000 customer changes, through the real CRM worker and the Mailchimp
stand-in (services/local/mailchimp), against the naive one call per change.

The stand-in runs on this process's event loop and counts every HTTP request it gets under
/3.0, by method and route. The changes go out once the worker is ready, as a burst, or round
by round with --mailchimp-round-gap-s between rounds (less to coalesce); the run is
over when the worker has committed every change, the audience equals the customers' final
state and the CRM's sync queue is empty (every call it meant to make has been answered). The
calls are counted after the worker has stopped, so none is missed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.progress import Progress
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.config import BenchConfig
from bench.customer_changes import ChangePlan, audience_problems, customer_changes
from bench.phase import PhaseOutcome
from bench.processes import start_workers, stop_workers, wait_ready, worker_env
from bench.records import GroupProgress, publish_all
from bench.resources import ResourceMonitor
from bench.stack import Stack
from services.common.database import create_engine
from services.common.kafka import ensure_topics
from services.crm import audience_repository
from services.crm.domain.drift import AudienceMember
from services.local.mailchimp import MailchimpServer
from services.local.mailchimp.state import ServerState
from shared.topics import ACCOUNT_EVENTS, CRM_CUSTOMERS, CRM_LOYALTY, POS_SALES, dead_letter_topic

POLL_INTERVAL_S = 0.05
BATCH_ROUTES = ("POST /batches", "GET /batches/{batch_id}")


def members_of(state: ServerState, audience_id: str) -> list[AudienceMember]:
    return [
        AudienceMember(m.email_address, m.status, dict(m.merge_fields), tuple(m.tags))
        for m in state.lists[audience_id].members.values()
    ]


def call_figures(counts: dict[str, int], batch_operations: int, changes: int) -> dict[str, Any]:
    """Calls against the naive sync, which makes one call (a PUT) per change."""
    calls = sum(counts.values())
    direct = sum(n for route, n in counts.items() if route not in BATCH_ROUTES)
    operations = direct + batch_operations
    return {
        "changes": changes,
        "api_calls": calls,
        "calls_per_1000_changes": round(calls * 1000 / changes, 1) if changes else 0.0,
        "naive_calls": changes,
        "naive_calls_per_1000_changes": 1000.0 if changes else 0.0,
        "calls_share_of_naive": round(calls / changes, 4) if changes else 0.0,
        "member_operations": operations,
        "member_operations_per_1000_changes": (
            round(operations * 1000 / changes, 1) if changes else 0.0
        ),
        "batch_operations": batch_operations,
        "calls_by_route": dict(sorted(counts.items())),
    }


async def mailchimp_run(
    config: BenchConfig,
    stack: Stack,
    database_url: str,
    monitor: ResourceMonitor,
    progress: Progress,
    run_id: str,
) -> PhaseOutcome:
    prefix = f"bench-{run_id}-mc."
    group_prefix = f"bench-{run_id}-mc"
    consumed = [prefix + t for t in (CRM_CUSTOMERS, POS_SALES, ACCOUNT_EVENTS)]
    topics = [*consumed, prefix + CRM_LOYALTY, *(dead_letter_topic(t) for t in consumed)]
    await ensure_topics(stack.bootstrap, topics, config.partitions)
    plan = customer_changes(config.mailchimp_customers, config.seed, f"{run_id}-")
    stand_in = MailchimpServer()
    await stand_in.start()
    try:
        env = worker_env(
            config, bootstrap=stack.bootstrap, topic_prefix=prefix, redis_url=stack.redis_url
        )
        env |= {
            "CRM_DATABASE_URL": database_url,
            "MAILCHIMP_API_KEY": stand_in.api_key,
            "MAILCHIMP_AUDIENCE_ID": stand_in.audience_id,
            "MAILCHIMP_API_URL": stand_in.api_url,
        }
        workers = start_workers("crm", config.workers, env, stack.work_dir / "logs", "-mailchimp")
        try:
            for n, worker in enumerate(workers, start=1):
                monitor.watch(f"crm worker (mailchimp) {n}", "crm worker", worker.process.pid)
            await wait_ready(workers)
            engine = create_engine(database_url)
            watch = GroupProgress(
                stack.bootstrap, f"{group_prefix}-crm", prefix + CRM_CUSTOMERS, config.partitions
            )
            await watch.start()
            try:
                outcome = await _converge(
                    config, stack, stand_in, plan, engine, watch, progress, prefix
                )
            finally:
                await watch.close()
                await engine.dispose()
        finally:
            await asyncio.to_thread(stop_workers, workers)
        state = stand_in.state
        batch_operations = sum(len(b.operations) for b in state.batches.values())
        outcome.figures |= call_figures(dict(state.request_counts), batch_operations, plan.changes)
        outcome.figures["customers"] = config.mailchimp_customers
        outcome.figures["round_gap_s"] = config.mailchimp_round_gap_s
        return outcome
    finally:
        await stand_in.stop()


async def _converge(
    config: BenchConfig,
    stack: Stack,
    stand_in: MailchimpServer,
    plan: ChangePlan,
    engine: AsyncEngine,
    watch: GroupProgress,
    progress: Progress,
    prefix: str,
) -> PhaseOutcome:
    task = progress.add_task("Mailchimp: customer changes applied", total=plan.changes)
    began = time.monotonic()
    for n, records in enumerate(plan.rounds()):
        if n and config.mailchimp_round_gap_s:
            await asyncio.sleep(config.mailchimp_round_gap_s)
        await publish_all(stack.bootstrap, prefix + CRM_CUSTOMERS, records)
    deadline = began + config.drain_timeout_s
    converged: float | None = None
    while True:
        committed = await watch.committed()
        now = time.monotonic()
        progress.update(task, completed=min(committed, plan.changes))
        members = members_of(stand_in.state, stand_in.audience_id)
        problems = audience_problems(plan.expected, members)
        if committed < plan.changes:
            problems.append(f"the CRM committed {committed} of {plan.changes} changes")
        queued = None
        if problems:
            converged = None
        else:
            converged = now if converged is None else converged
            async with engine.connect() as conn:
                queued = await audience_repository.queue_length(conn)
            if queued == 0:
                break
        if now > deadline:
            if queued:
                problems = [f"{queued} customers still in the sync queue after the deadline"]
            break
        await asyncio.sleep(POLL_INTERVAL_S)
    drained = time.monotonic()
    expected = plan.expected.values()
    return PhaseOutcome(
        figures={
            "converged_s": round(converged - began, 3) if converged is not None else None,
            "queue_drained_s": round(drained - began, 3),
        },
        checks={"mailchimp: the audience equals every customer's final state": problems},
        counts={
            "mailchimp members expected subscribed": sum(1 for e in expected if e.opted_in),
            "mailchimp customers opted out": sum(1 for e in expected if not e.opted_in),
        },
    )
