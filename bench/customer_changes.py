"""The Mailchimp phase's workload: customer changes in quick succession, what the audience must
hold once they are all applied, and the check that it does.

Every customer gets ROUNDS changes: created with consent, details changed, tags changed, then
either consent withdrawn or the mobile and tags changed again. The rounds go out one after the
other over all customers, as a burst, so the CRM sees several changes of one customer close
together: what its sync queue coalesces. What the audience must hold follows docs/crm.md:
an opted-in customer is a subscribed member with FNAME, LNAME, PHONE, BIRTHDAY (MM/DD) and
exactly the customer's tags; a customer who withdrew consent is no member, or an unsubscribed
one (when the CRM had synced them before the withdrawal arrived).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from bench.records import KeyedRecord
from services.crm.domain.drift import AudienceMember
from shared.customers import CustomerUpsert

ROUNDS = 4
OPT_OUT_SHARE = 0.2
EMAIL_DOMAIN = "bench.example"
SHOWN_MAX = 5


@dataclass(frozen=True)
class ExpectedMember:
    email: str
    opted_in: bool
    merge_fields: dict[str, str]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class ChangePlan:
    records: list[KeyedRecord]  # in publishing order
    expected: dict[str, ExpectedMember]  # by customer id

    @property
    def changes(self) -> int:
        return len(self.records)

    def rounds(self) -> list[list[KeyedRecord]]:
        """The records round by round: each customer's n-th change is in round n."""
        size = len(self.expected)
        return [self.records[n : n + size] for n in range(0, len(self.records), size)]


def _rounds(n: int, customer_id: str, opts_out: bool) -> list[dict[str, Any]]:
    store = f"store-{n % 4}"
    vip = ["vip"] if n % 2 == 0 else []
    created = {
        "email": f"{customer_id.lower()}@{EMAIL_DOMAIN}",
        "first_name": f"Pat{n}",
        "last_name": "Lee",
        "mobile": f"+6421{n:07d}",
        "birthday": date(1970 + n % 40, 1 + n % 12, 1 + n % 28).isoformat(),
        "tags": ["bench", store],
        "marketing_opt_in": True,
        "opt_in_source": "till",
    }
    details = {"first_name": f"Patricia{n}", "last_name": f"Lee-{n % 7}"}
    tags = {"tags": ["bench", store, *vip]}
    last: dict[str, Any] = (
        {"marketing_opt_in": False, "opt_in_source": "till"}
        if opts_out
        else {"mobile": f"+6422{n:07d}", "tags": [store, *vip]}
    )
    return [created, details, tags, last]


def expected_member(fields: Mapping[str, Any]) -> ExpectedMember:
    """The member a customer with these (merged) fields must be, by docs/crm.md."""
    birthday = fields.get("birthday")
    return ExpectedMember(
        email=str(fields["email"]),
        opted_in=fields.get("marketing_opt_in") is True,
        merge_fields={
            "FNAME": fields.get("first_name") or "",
            "LNAME": fields.get("last_name") or "",
            "PHONE": fields.get("mobile") or "",
            "BIRTHDAY": date.fromisoformat(birthday).strftime("%m/%d") if birthday else "",
        },
        tags=tuple(sorted(fields.get("tags") or ())),
    )


def customer_changes(customers: int, seed: int, prefix: str) -> ChangePlan:
    """ROUNDS changes for each of `customers` customers, deterministic for the seed."""
    rng = random.Random(seed)
    ids = [f"{prefix}M{n:06d}" for n in range(customers)]
    opting_out = set(rng.sample(range(customers), round(customers * OPT_OUT_SHARE)))
    plans = [_rounds(n, ids[n], n in opting_out) for n in range(customers)]
    records: list[KeyedRecord] = []
    state: dict[str, dict[str, Any]] = {c: {} for c in ids}
    for round_ in range(ROUNDS):
        order = list(range(customers))
        rng.shuffle(order)
        for n in order:
            customer_id, fields = ids[n], plans[n][round_]
            change = {"event_id": f"{customer_id}-c{round_}", "customer_id": customer_id, **fields}
            CustomerUpsert.model_validate(change)  # the contract's message, or a bench bug
            state[customer_id] |= fields
            records.append(KeyedRecord(customer_id.encode(), orjson.dumps(change)))
    return ChangePlan(records, {c: expected_member(fields) for c, fields in state.items()})


def audience_problems(
    expected: Mapping[str, ExpectedMember], members: Iterable[AudienceMember]
) -> list[str]:
    """Where the audience differs from the customers' final state; empty when it matches."""
    by_email = {m.email.lower(): m for m in members if m.status != "archived"}
    known = {want.email.lower() for want in expected.values()}
    wrong: list[str] = []
    for customer_id, want in sorted(expected.items()):
        email = want.email.lower()
        member = by_email.get(email)
        if not want.opted_in:
            if member is not None and member.status != "unsubscribed":
                wrong.append(f"{customer_id} withdrew consent, member is {member.status}")
            continue
        if member is None:
            wrong.append(f"{customer_id} opted in, no member {want.email}")
            continue
        if member.status != "subscribed":
            wrong.append(f"{customer_id} opted in, member is {member.status}")
        fields = {k: member.merge_fields.get(k, "") for k in want.merge_fields}
        if fields != want.merge_fields:
            wrong.append(f"{customer_id} merge fields {fields} != {want.merge_fields}")
        if tuple(sorted(member.tags)) != want.tags:
            wrong.append(f"{customer_id} tags {sorted(member.tags)} != {list(want.tags)}")
    for email, member in sorted(by_email.items()):
        if member.status == "subscribed" and email not in known:
            wrong.append(f"{email} is subscribed, and no customer opted in with it")
    return wrong
