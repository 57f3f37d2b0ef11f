"""The statements service: what it consumes and produces, and its parts (the only wiring file)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from services.common.handler import TopicHandler
from services.common.kafka import TopicDoc
from services.common.service import ServiceContext, ServiceSpec
from services.statements.business import Business
from services.statements.consumers import AccountEvents
from services.statements.deliveries import Deliveries
from services.statements.documents import StatementRenderer
from services.statements.domain.delivery import RetryPolicy
from services.statements.issuing import Issuer
from services.statements.pdf import Fonts
from services.statements.requests import StatementRequests
from services.statements.scheduler import Scheduler
from services.statements.settings import StatementsSettings
from services.statements.smtp import MailServer, SmtpServer
from services.statements.tables import metadata, runtime
from shared.account_events import AccountEvent
from shared.statements import StatementRequest, StatementSent
from shared.topics import ACCOUNT_EVENTS, STATEMENT_REQUESTS, STATEMENTS_SENT


def settings_of(context: ServiceContext) -> StatementsSettings:
    settings = context.settings
    if not isinstance(settings, StatementsSettings):
        raise TypeError("the statements worker runs with StatementsSettings")
    return settings


def issuer(settings: StatementsSettings) -> Issuer:
    business = Business(
        name=settings.business_name,
        address_lines=tuple(settings.address_lines),
        contact=settings.business_contact,
        logo_path=settings.logo_path,
        payment_instructions=settings.payment_instructions,
    )
    fonts = None
    if settings.font_path is not None:
        fonts = Fonts(settings.font_path, settings.font_bold_path or settings.font_path)
    renderer = StatementRenderer(business, settings.template_dir, fonts)
    renderer.check()
    return Issuer(renderer, ZoneInfo(settings.business_timezone), settings.statement_from)


def scheduler(context: ServiceContext) -> Scheduler:
    settings = settings_of(context)
    return Scheduler(
        context.engine,
        issuer(settings),
        context.clock,
        close_delay=timedelta(seconds=settings.close_delay_s),
        catch_up_days=settings.catch_up_days,
        accounts_per_pass_max=settings.accounts_per_pass_max,
        interval_s=settings.schedule_interval_s,
    )


def deliveries(context: ServiceContext) -> Deliveries:
    settings = settings_of(context)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    server = SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        timeout_s=settings.smtp_timeout_s,
        username=settings.smtp_username,
        password=password,
        ca_file=settings.smtp_ca_file,
    )
    policy = RetryPolicy(
        attempts_max=settings.delivery_attempts_max,
        backoff=timedelta(seconds=settings.retry_backoff_s),
        backoff_max=timedelta(seconds=settings.retry_backoff_cap_s),
    )
    return Deliveries(
        context.engine,
        MailServer(server, settings.send_timeout_s),
        policy,
        context.clock,
        sender=settings.statement_from,
        sender_name=settings.business_name,
        lease=timedelta(seconds=settings.sending_lease_s),
        per_pass_max=settings.sends_per_pass_max,
        concurrent_max=settings.sends_concurrent_max,
        interval_s=settings.delivery_interval_s,
        relay=context.relay,
    )


def _handlers(context: ServiceContext) -> Mapping[str, TopicHandler[Any]]:
    settings = settings_of(context)
    zone = ZoneInfo(settings.business_timezone)
    requests = StatementRequests(issuer(settings), zone, timedelta(seconds=settings.close_delay_s))
    return {ACCOUNT_EVENTS: AccountEvents(zone), STATEMENT_REQUESTS: requests}


def _tasks(context: ServiceContext) -> Sequence[Callable[[], Coroutine[Any, Any, None]]]:
    return [scheduler(context).run_schedule, deliveries(context).run_deliveries]


SPEC = ServiceSpec(
    name="statements",
    title="Tabs statements service",
    version="1.0.0",
    metadata=metadata,
    tables=runtime,
    migrations=Path(__file__).parent / "migrations",
    consumes=[
        TopicDoc(ACCOUNT_EVENTS, AccountEvent, "accounts and their entries, kept in its own store"),
        TopicDoc(
            STATEMENT_REQUESTS,
            StatementRequest,
            "statements on demand: emailed, or only rendered with deliver: false",
        ),
    ],
    produces=[
        TopicDoc(STATEMENTS_SENT, StatementSent, "the outcome of every statement"),
    ],
    handlers=_handlers,
    tasks=_tasks,
)
