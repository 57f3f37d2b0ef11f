"""What the Mailchimp audience should hold for a customer, and what to send to get it there.

Contract (crm.customers.v1): opted-in customers are members, upserted by subscriber hash with
FNAME, LNAME, PHONE, BIRTHDAY (MM/DD) and their tags; `marketing_opt_in: false` unsubscribes;
a customer who never opted in is never subscribed, so such a customer is never created in the
audience at all. Consent withdrawn by clearing it (`null`) counts as not opted in.

An unsubscribe made in Mailchimp (the recipient's link) must not be overridden without new
consent: members are upserted with `status_if_new`, which never changes an existing member's
status, and `status` is sent only when the customer has just opted in again, or to undo an
unsubscribe the CRM itself made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from services.crm.domain.customers import Customer

MemberStatus = Literal["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
# Who last set the member's status: this CRM through the API, or someone in Mailchimp.
StatusSource = Literal["crm", "mailchimp"]

# The customer fields the audience shows; a change to any other field needs no sync.
AUDIENCE_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "mobile",
    "birthday",
    "tags",
    "marketing_opt_in",
)


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    return hashlib.md5(email.lower().encode("utf-8")).hexdigest()


def needs_sync(before: Customer | None, after: Customer) -> bool:
    if before is None:
        return after.marketing_opt_in is True or after.email is not None
    return any(getattr(before, name) != getattr(after, name) for name in AUDIENCE_FIELDS)


def new_consent(before: Customer | None, after: Customer) -> bool:
    """The customer opted in just now. Only a change counts: the same `true` sent again is the
    consent already on record, not a new one."""
    return after.marketing_opt_in is True and (
        before is None or before.marketing_opt_in is not True
    )


def wants_membership(customer: Customer) -> bool:
    return customer.marketing_opt_in is True and customer.email is not None


def merge_fields(customer: Customer) -> dict[str, str]:
    # An empty string clears a merge field in Mailchimp: a cleared name must not linger there.
    birthday = customer.birthday.strftime("%m/%d") if customer.birthday else ""
    return {
        "FNAME": customer.first_name or "",
        "LNAME": customer.last_name or "",
        "PHONE": customer.mobile or "",
        "BIRTHDAY": birthday,
    }


@dataclass(frozen=True)
class MemberRecord:
    """What the CRM knows the audience holds for a customer, from its last successful call."""

    email: str | None = None
    status: MemberStatus | None = None
    status_source: StatusSource | None = None
    tags: tuple[str, ...] = ()

    @property
    def is_member(self) -> bool:
        return self.email is not None and self.status is not None


@dataclass(frozen=True)
class Subscribe:
    customer_id: str
    email: str
    merge_fields: dict[str, str]
    tags: tuple[str, ...]
    # The tags this CRM last put on the member. Only those are ever removed: tags added in
    # Mailchimp by marketers are theirs.
    synced_tags: tuple[str, ...]
    # Send `status: subscribed` as well as `status_if_new` (see the module docstring).
    explicit_status: bool
    # The address the member has in Mailchimp when the customer's address changed since.
    moved_from: str | None = None
    # The CRM has created this member before (its tags go through the tags endpoint).
    known: bool = False

    @property
    def subscriber_hash(self) -> str:
        return subscriber_hash(self.email)

    def member_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "email_address": self.email,
            "status_if_new": "subscribed",
            "merge_fields": self.merge_fields,
            # Applied by Mailchimp only when the member is created; later changes are tag calls.
            "tags": list(self.tags),
        }
        if self.explicit_status:
            body["status"] = "subscribed"
        return body

    def tag_changes(self, present: tuple[str, ...] | None = None) -> list[dict[str, str]]:
        """The tag updates still needed. `present` is what Mailchimp answered the member holds;
        without it (inside a batch) the CRM's record of its last sync stands in, and a new
        member needs none: its tags came with it."""
        if present is None and not self.known:
            return []
        have = set(self.synced_tags if present is None else present)
        wanted = set(self.tags)
        added = [name for name in self.tags if name not in have]
        dropped = [name for name in self.synced_tags if name not in wanted and name in have]
        return [{"name": n, "status": "active"} for n in added] + [
            {"name": n, "status": "inactive"} for n in dropped
        ]


@dataclass(frozen=True)
class Unsubscribe:
    customer_id: str
    email: str

    @property
    def subscriber_hash(self) -> str:
        return subscriber_hash(self.email)


@dataclass(frozen=True)
class Leave:
    """Nothing to send: the customer is not, and must not become, a member."""

    customer_id: str


Plan = Subscribe | Unsubscribe | Leave


def plan_sync(customer: Customer, record: MemberRecord, resubscribe: bool) -> Plan:
    if wants_membership(customer):
        assert customer.email is not None
        moved = (
            record.email
            if record.is_member
            and record.email is not None
            and subscriber_hash(record.email) != subscriber_hash(customer.email)
            else None
        )
        undo_own_unsubscribe = record.status == "unsubscribed" and record.status_source == "crm"
        return Subscribe(
            customer_id=customer.customer_id,
            email=customer.email,
            merge_fields=merge_fields(customer),
            tags=customer.tags,
            synced_tags=record.tags,
            explicit_status=resubscribe or undo_own_unsubscribe,
            moved_from=moved,
            known=record.is_member,
        )
    if record.is_member and record.status == "subscribed":
        assert record.email is not None
        return Unsubscribe(customer.customer_id, record.email)
    return Leave(customer.customer_id)
