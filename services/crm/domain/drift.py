"""Where the Mailchimp audience and the CRM disagree, and which side is right.

The CRM is right about who consented and about names, birthdays and tags. Mailchimp is right
about an unsubscribe or a bounce it recorded itself (the recipient's link, a hard bounce): the
CRM then withdraws consent, as the webhook would have. An unsubscribe the CRM made through the
API, for a customer who consents again, is the CRM's to undo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from services.crm.domain.audience import (
    MemberRecord,
    merge_fields,
    subscriber_hash,
    wants_membership,
)
from services.crm.domain.customers import Customer

DriftKind = Literal[
    "missing",  # opted in, no member: subscribe
    "fields",  # merge fields differ: upsert
    "tags",  # CRM tags missing, or tags the CRM removed still there: tag
    "resubscribe",  # the CRM unsubscribed them and they consent again: subscribe explicitly
    "withdrawn",  # unsubscribed or cleaned in Mailchimp: withdraw the CRM's consent
    "subscribed",  # subscribed without consent in the CRM: unsubscribe
    "unknown",  # a subscribed member no customer has: reported only
]


@dataclass(frozen=True)
class AudienceMember:
    email: str
    status: str
    merge_fields: dict[str, str]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    email: str
    customer_id: str | None
    detail: str


def find_drift(
    customers: Mapping[str, Customer],
    records: Mapping[str, MemberRecord],
    audience: Mapping[str, AudienceMember],
) -> list[Drift]:
    """`audience` is keyed by subscriber hash."""
    drifts: list[Drift] = []
    known: set[str] = set()
    for customer_id, customer in sorted(customers.items()):
        record = records.get(customer_id, MemberRecord())
        hashes = {subscriber_hash(e) for e in (customer.email, record.email) if e}
        known |= hashes
        if wants_membership(customer):
            assert customer.email is not None
            member = audience.get(subscriber_hash(customer.email))
            drifts += _member_drift(customer, record, member)
            continue
        for member_hash in sorted(hashes):
            member = audience.get(member_hash)
            if member is not None and member.status == "subscribed":
                reason = "opted out" if customer.marketing_opt_in is False else "never opted in"
                drifts.append(Drift("subscribed", member.email, customer_id, reason))
    for member_hash, member in sorted(audience.items()):
        if member_hash not in known and member.status == "subscribed":
            drifts.append(Drift("unknown", member.email, None, "no customer has this address"))
    return drifts


def _member_drift(
    customer: Customer, record: MemberRecord, member: AudienceMember | None
) -> list[Drift]:
    assert customer.email is not None
    who, email = customer.customer_id, customer.email
    if member is None:
        return [Drift("missing", email, who, "opted in but not in the audience")]
    if member.status in ("unsubscribed", "cleaned"):
        if record.status == member.status and record.status_source == "crm":
            return [Drift("resubscribe", email, who, f"{member.status} by the CRM")]
        return [Drift("withdrawn", email, who, f"{member.status} in Mailchimp")]
    if member.status != "subscribed":
        return []  # pending or transactional: Mailchimp's own process, not ours to judge
    drifts = []
    expected = merge_fields(customer)
    differing = sorted(k for k, v in expected.items() if member.merge_fields.get(k, "") != v)
    if differing:
        drifts.append(Drift("fields", email, who, ", ".join(differing)))
    missing = [t for t in customer.tags if t not in member.tags]
    stale = [t for t in record.tags if t not in customer.tags and t in member.tags]
    if missing or stale:
        parts = [f"missing {missing}" if missing else "", f"removed {stale}" if stale else ""]
        drifts.append(Drift("tags", email, who, "; ".join(p for p in parts if p)))
    return drifts
