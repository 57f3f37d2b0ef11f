"""A real statements worker for each test that asks for one, with a mail catcher and a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from services.common.clock import SetClock
from services.common.settings import RuntimeSettings
from services.local.mail_catcher import MailCatcher
from tests.statements.harness import START, Statements, running_statements, statements_settings


@pytest.fixture
def mail() -> Iterator[MailCatcher]:
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
async def statements(
    settings: RuntimeSettings, database_url: str, mail: MailCatcher
) -> AsyncIterator[Statements]:
    config = statements_settings(settings, database_url, (mail.host, mail.port))
    async with running_statements(config, SetClock(START), mail) as running:
        yield running
