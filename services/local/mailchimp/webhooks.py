"""Webhook URL validation and delivery, in Mailchimp's wire format.

Mailchimp checks a new webhook URL with a GET (User-Agent "MailChimp.com WebHook Validator")
and accepts it only on 200. Events are POSTed as application/x-www-form-urlencoded with
PHP-style keys (`data[merges][FNAME]`), `fired_at` as "YYYY-MM-DD HH:MM:SS" (UTC), User-Agent
"MailChimp.com". `data[id]` is the member's unique_email_id (ten hex digits), not the
subscriber hash. Deliveries here are awaited, not queued, so a test sees them at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp

from .state import AudienceList, Member, ServerState

VALIDATOR_AGENT = "MailChimp.com WebHook Validator"
DELIVERY_AGENT = "MailChimp.com"
TIMEOUT = aiohttp.ClientTimeout(total=10)


async def url_answers_200(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(url, headers={"User-Agent": VALIDATOR_AGENT}) as response,
        ):
            return response.status == 200
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return False


def fired_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def unsubscribe_fields(
    audience: AudienceList, member: Member, reason: str, campaign_id: str
) -> list[tuple[str, str]]:
    fields = [
        ("type", "unsubscribe"),
        ("fired_at", fired_at()),
        ("data[action]", "unsub"),
        ("data[reason]", reason),
        ("data[id]", member.unique_email_id),
        ("data[list_id]", audience.id),
        ("data[email]", member.email_address),
        ("data[email_type]", member.email_type),
        ("data[ip_opt]", ""),
        ("data[web_id]", str(member.web_id)),
        ("data[merges][EMAIL]", member.email_address),
    ]
    fields += [(f"data[merges][{tag}]", value) for tag, value in member.merge_fields.items()]
    if campaign_id:
        fields.append(("data[campaign_id]", campaign_id))
    return fields


def cleaned_fields(
    audience: AudienceList, member: Member, reason: str, campaign_id: str
) -> list[tuple[str, str]]:
    return [
        ("type", "cleaned"),
        ("fired_at", fired_at()),
        ("data[list_id]", audience.id),
        ("data[campaign_id]", campaign_id),
        ("data[reason]", reason),
        ("data[email]", member.email_address),
    ]


async def deliver(
    state: ServerState,
    audience: AudienceList,
    event: str,
    source: str | None,
    fields: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    """POST the event to every webhook of the audience that asked for it; report each try.

    `source` is who made the change (user, admin or api); a bounce has none, so `cleaned`
    goes to every webhook that wants the event.
    """
    results: list[dict[str, Any]] = []
    for hook in list(audience.webhooks.values()):
        if not hook.events.get(event, False):
            continue
        if source is not None and not hook.sources.get(source, False):
            continue
        result: dict[str, Any] = {"webhook_id": hook.id, "url": hook.url, "type": event}
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as session,
                session.post(hook.url, data=fields, headers={"User-Agent": DELIVERY_AGENT}) as r,
            ):
                result["status"] = r.status
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            result["error"] = repr(error)
        result["fields"] = dict(fields)
        state.webhook_deliveries.append(result)
        results.append(result)
    return results
