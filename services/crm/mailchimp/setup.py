"""Building the Mailchimp side of the CRM from its settings (worker and `tabs crm` alike)."""

from __future__ import annotations

from dataclasses import dataclass

from services.crm.mailchimp.api import CallPolicy, MailchimpApi, connect
from services.crm.mailchimp.backoff import Backoff
from services.crm.mailchimp.connection_limit import ConnectionLimit
from services.crm.mailchimp.members import BatchTiming, MemberSync
from services.crm.settings import CrmSettings


@dataclass(frozen=True)
class Mailchimp:
    api: MailchimpApi
    members: MemberSync
    limit: ConnectionLimit
    backoff: Backoff

    async def close(self) -> None:
        await self.limit.close()


def limit_key(settings: CrmSettings) -> str:
    return f"{settings.topic_prefix}tabs:crm:mailchimp-connections"


def build_mailchimp(settings: CrmSettings) -> Mailchimp:
    assert settings.mailchimp_api_key and settings.mailchimp_audience_id
    backoff = Backoff(settings.mailchimp_backoff_base_s, settings.mailchimp_backoff_max_s)
    limit = ConnectionLimit(
        settings.redis_url,
        limit_key(settings),
        limit=settings.mailchimp_connections_max,
        local_limit=settings.mailchimp_local_connections_max,
        # A lease outlives the longest call (the client's timeout, twice: see api.py), so it
        # only expires when its holder died.
        lease_s=settings.mailchimp_timeout_s * 4,
        wait_max_s=settings.mailchimp_timeout_s * 4,
    )
    client = connect(
        settings.mailchimp_api_url, settings.mailchimp_api_key, settings.mailchimp_timeout_s
    )
    policy = CallPolicy(settings.mailchimp_timeout_s, settings.mailchimp_call_tries_max, backoff)
    api = MailchimpApi(client, settings.mailchimp_audience_id, limit, policy)
    timing = BatchTiming(
        threshold=settings.mailchimp_batch_threshold,
        poll_interval_s=settings.mailchimp_batch_poll_interval_s,
        wait_max_s=settings.mailchimp_batch_wait_max_s,
    )
    return Mailchimp(api, MemberSync(api, timing), limit, backoff)
