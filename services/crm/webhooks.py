"""Mailchimp's webhooks: a recipient who unsubscribed, or an address that bounced (`cleaned`),
withdraws the customer's consent in the CRM.

The URL is `/webhooks/mailchimp/<MAILCHIMP_WEBHOOK_SECRET>`: Mailchimp signs nothing, so the
secret in the path is what tells its calls from anyone's. A wrong or missing secret gets 404,
as does everything when no secret is set. Mailchimp checks a new URL with a GET and wants 200;
events come as form fields (`type`, `data[email]`, ...). Applying an event twice changes
nothing the second time, and Mailchimp retries what does not get a 200.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.common.service import ServiceContext
from services.crm import audience_repository, repository
from services.crm.audience_repository import MemberState
from services.crm.domain.audience import MemberRecord, MemberStatus
from services.crm.mailchimp.outcomes import withdraw

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/mailchimp/{secret}"

# Mailchimp's event type -> the member status it leaves and the consent source we record.
_WITHDRAWALS: dict[str, tuple[MemberStatus, str]] = {
    "unsubscribe": ("unsubscribed", "mailchimp:unsubscribe"),
    "cleaned": ("cleaned", "mailchimp:cleaned"),
}


def add_webhook_routes(app: web.Application, context: ServiceContext, secret: str | None) -> None:
    def guarded(
        handler: Callable[[web.Request], Awaitable[web.Response]],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def checked(request: web.Request) -> web.Response:
            presented = request.match_info["secret"]
            if secret is None or not hmac.compare_digest(presented.encode(), secret.encode()):
                return web.json_response({"error": "not_found"}, status=404)
            return await handler(request)

        return checked

    async def validate(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def event(request: web.Request) -> web.Response:
        form = await request.post()
        kind = str(form.get("type", ""))
        email = str(form.get("data[email]", ""))
        if kind not in _WITHDRAWALS or not email:
            return web.json_response({"status": "ignored", "type": kind})
        changed = await _withdraw(context, email, *_WITHDRAWALS[kind])
        if context.read_model is not None:
            await context.read_model.refresh(changed)
        log.info("mailchimp %s for %d customers", kind, len(changed))
        return web.json_response({"status": "applied", "type": kind, "customers": len(changed)})

    app.router.add_get(WEBHOOK_PATH, guarded(validate))
    app.router.add_post(WEBHOOK_PATH, guarded(event))


async def _withdraw(
    context: ServiceContext, email: str, status: MemberStatus, source: str
) -> list[str]:
    """Withdraws the consent of the customers with this address and records the member's new
    status as Mailchimp's doing, so that no sync undoes it without new consent."""
    now = context.clock.now()
    async with context.engine.begin() as conn:
        ids = sorted(
            {
                *await repository.customer_ids_with_email(conn, email),
                *await audience_repository.customer_ids_of_member(conn, email),
            }
        )
        members = await audience_repository.load_members(conn, ids)
        states = []
        for customer_id in ids:
            known = members.get(customer_id)
            record = known.record if known else MemberRecord(email=email)
            states.append(
                MemberState(
                    customer_id,
                    MemberRecord(record.email or email, status, "mailchimp", record.tags),
                    "synced",
                    None,
                    known.synced_at if known else None,
                    known.attempted_at if known else None,
                )
            )
        await audience_repository.save_members(conn, states)
        await withdraw(conn, {customer_id: source for customer_id in ids}, now)
    return ids
