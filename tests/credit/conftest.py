"""The credit worker, running for real, for each test that asks for `credit`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.common.settings import RuntimeSettings
from services.credit.app import SPEC
from shared.topics import ACCOUNT_COMMANDS, ACCOUNT_EVENTS, CREDIT_DECISIONS, POS_SALES
from tests.support.credit import Harness
from tests.support.kafka import Collector, Producer
from tests.support.workers import running_worker


@pytest.fixture
async def credit(settings: RuntimeSettings, database_url: str) -> AsyncIterator[Harness]:
    async with running_worker(SPEC, settings, database_url) as worker:
        producer = Producer(settings.kafka_bootstrap_servers)
        await producer.start()
        topics = [settings.topic(t) for t in (CREDIT_DECISIONS, ACCOUNT_EVENTS)]
        topics.append(settings.topic(POS_SALES) + ".dlq")
        topics.append(settings.topic(ACCOUNT_COMMANDS) + ".dlq")
        replies = Collector(settings.kafka_bootstrap_servers, topics)
        await replies.start()
        try:
            yield Harness(settings, worker, producer, replies)
        finally:
            await replies.stop()
            await producer.stop()
