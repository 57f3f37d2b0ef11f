"""The JSON shapes Mailchimp returns for lists, members, tags, webhooks and batches.

Only the fields a client or a drift report reads are filled with real values; the others are
present with Mailchimp's empty defaults so that code written against the real API finds them.
"""

from __future__ import annotations

from typing import Any

from .state import AudienceList, Batch, Member, Webhook


def member_json(audience: AudienceList, member: Member) -> dict[str, Any]:
    names = [member.merge_fields.get("FNAME", ""), member.merge_fields.get("LNAME", "")]
    doc: dict[str, Any] = {
        "id": member.id,
        "email_address": member.email_address,
        "unique_email_id": member.unique_email_id,
        "contact_id": member.contact_id,
        "full_name": " ".join(n for n in names if n),
        "web_id": member.web_id,
        "email_type": member.email_type,
        "status": member.status,
        "merge_fields": dict(member.merge_fields),
        "interests": {},
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": "",
        "timestamp_signup": member.timestamp_signup,
        "ip_opt": "",
        "timestamp_opt": member.timestamp_opt,
        "member_rating": 2,
        "last_changed": member.last_changed,
        "language": member.language,
        "vip": member.vip,
        "email_client": "",
        "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0},
        "source": "API - Generic",
        "tags_count": len(member.tags),
        "tags": [{"id": t.id, "name": t.name} for t in member.tags.values()],
        "list_id": audience.id,
        "_links": [],
    }
    if member.status == "unsubscribed":
        doc["unsubscribe_reason"] = member.unsubscribe_reason
    return doc


def list_json(audience: AudienceList) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for member in audience.members.values():
        counts[member.status] = counts.get(member.status, 0) + 1
    return {
        "id": audience.id,
        "web_id": audience.web_id,
        "name": audience.name,
        "contact": {"company": "Tabs", "country": "NZ"},
        "permission_reminder": "You are a customer of a Tabs retailer.",
        "campaign_defaults": {"from_name": "Tabs", "from_email": "", "language": "en"},
        "date_created": audience.date_created,
        "list_rating": 0,
        "email_type_option": False,
        "visibility": "prv",
        "double_optin": False,
        "stats": {
            "member_count": counts.get("subscribed", 0),
            "unsubscribe_count": counts.get("unsubscribed", 0),
            "cleaned_count": counts.get("cleaned", 0),
            "total_contacts": sum(counts.values()),
        },
        "_links": [],
    }


def tags_json(member: Member) -> dict[str, Any]:
    tags = [{"id": t.id, "name": t.name, "date_added": t.date_added} for t in member.tags.values()]
    return {"tags": tags, "total_items": len(tags), "_links": []}


def webhook_json(audience: AudienceList, hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "events": dict(hook.events),
        "sources": dict(hook.sources),
        "list_id": audience.id,
        "_links": [],
    }


def batch_json(batch: Batch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "status": batch.status,
        "total_operations": len(batch.operations),
        "finished_operations": batch.finished_operations,
        "errored_operations": batch.errored_operations,
        "submitted_at": batch.submitted_at,
        "completed_at": batch.completed_at,
        "response_body_url": batch.response_body_url,
        "_links": [],
    }
