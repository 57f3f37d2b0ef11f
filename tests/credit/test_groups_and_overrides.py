"""Group accounts, manager overrides and credit ratings, end to end."""

from __future__ import annotations

from typing import Any

from shared.topics import ACCOUNT_EVENTS
from tests.support.credit import Harness, authorize, open_account
from tests.support.naming import unique


def command(kind: str, account: str, **fields: Any) -> dict[str, Any]:
    return {
        "command_id": unique("c-"),
        "issued_at": "2026-11-23T09:00:00+13:00",
        "issued_by": "back-office",
        "type": kind,
        "account_number": account,
        **fields,
    }


async def outcome(credit: Harness, sent: dict[str, Any]) -> dict[str, Any]:
    """Sends a command and waits for what it caused: a change, or a rejection."""
    await credit.command(sent)
    [found] = await credit.replies.wait_for(
        credit.topic(ACCOUNT_EVENTS),
        lambda m: (
            m.get("command_id") == sent["command_id"]
            and m["type"] in ("account_changed", "command_rejected")
        ),
    )
    return found


async def decide(credit: Harness, sale: dict[str, Any]) -> dict[str, Any]:
    await credit.sale(sale)
    [decision] = await credit.decision(sale["event_id"])
    return decision


async def group(credit: Harness, funding: Any, parent_limit: str = "100.00") -> tuple[str, str]:
    parent, member = unique("GRP-"), unique("MEM-")
    await credit.open(open_account(parent, limit=parent_limit))
    await credit.open(open_account(member, limit="0.00"))
    added = await outcome(
        credit, command("add_member", parent, member_account_number=member, funding=funding)
    )
    assert added["type"] == "account_changed", added.get("detail")
    assert added["parent_account_number"] == parent
    return parent, member


async def test_member_sale_is_charged_to_the_parents_credit(credit: Harness) -> None:
    parent, member = await group(credit, "full")
    approved = await decide(credit, authorize(member, "60.00"))
    assert approved["decision"] == "approved", approved["reason"]
    assert approved["account_number"] == member
    assert approved["balance"] == "60.00" and approved["credit_limit"] == "100.00"
    declined = await decide(credit, authorize(member, "40.01"))
    assert declined["reason"] == "insufficient_credit"
    [entry] = await credit.replies.wait_for(
        credit.topic(ACCOUNT_EVENTS),
        lambda m: m["type"] == "entry_posted" and m["account_number"] == parent,
    )
    assert entry["entry"]["member_account_number"] == member


async def test_category_funded_member_is_declined_outside_its_categories(
    credit: Harness,
) -> None:
    _, member = await group(credit, {"categories": ["tools"]})
    assert (await decide(credit, authorize(member, "10.00")))["decision"] == "approved"
    paint = authorize(member, "10.00")
    paint["lines"][0]["category"] = "paint"
    assert (await decide(credit, paint))["reason"] == "member_not_funded"


async def test_suspending_the_parent_declines_its_members(credit: Harness) -> None:
    parent, member = await group(credit, "full")
    await outcome(credit, command("suspend_account", parent))
    assert (await decide(credit, authorize(member, "1.00")))["reason"] == "account_suspended"


async def test_member_in_another_currency_and_nesting_are_refused(credit: Harness) -> None:
    parent, member = await group(credit, "full")
    aud = unique("AUD-")
    await credit.open({**open_account(aud), "currency": "AUD"})
    refused = await outcome(
        credit, command("add_member", parent, member_account_number=aud, funding="full")
    )
    assert refused["reason"] == "member_currency_mismatch"
    other = unique("OTH-")
    await credit.open(open_account(other))
    nested = await outcome(
        credit, command("add_member", member, member_account_number=other, funding="full")
    )
    assert nested["reason"] == "nested_group"


async def test_removed_member_is_charged_on_its_own_account(credit: Harness) -> None:
    parent, member = await group(credit, "full")
    removed = await outcome(credit, command("remove_member", parent, member_account_number=member))
    assert removed["parent_account_number"] is None
    own = await decide(credit, authorize(member, "5.00"))
    assert own["reason"] == "insufficient_credit"  # its own limit is 0


async def test_override_passes_the_limit_within_the_rules(credit: Harness) -> None:
    number = unique("ACC-")
    rules = {"stores": ["store-1"], "roles": ["manager"], "max_over_limit": "50.00"}
    await credit.open(open_account(number, limit="100.00", override_rules=rules))
    no_override = await decide(credit, authorize(number, "120.00"))
    assert no_override["reason"] == "insufficient_credit"
    manager = {"code": "OVR-1", "authorised_by": "manager"}
    approved = await decide(credit, authorize(number, "120.00", override=manager))
    assert approved["decision"] == "approved" and approved["over_limit"] is True
    [entry] = await credit.replies.wait_for(
        credit.topic(ACCOUNT_EVENTS),
        lambda m: m["type"] == "entry_posted" and m["account_number"] == number,
    )
    assert entry["entry"]["override"] == manager
    too_far = await decide(credit, authorize(number, "40.00", override=manager))
    assert too_far["reason"] == "insufficient_credit"
    clerk = await decide(
        credit, authorize(number, "1.00", override={"code": "OVR-2", "authorised_by": "clerk"})
    )
    assert clerk["reason"] == "insufficient_credit"


async def test_override_never_passes_a_terminated_or_unknown_account(credit: Harness) -> None:
    manager = {"code": "OVR-1", "authorised_by": "manager"}
    unknown = await decide(credit, authorize(unique("ACC-"), "1.00", override=manager))
    assert unknown["reason"] == "account_not_found"


async def test_new_rating_without_a_limit_brings_the_ratings_default(credit: Harness) -> None:
    number = unique("ACC-")
    await credit.open(open_account(number, limit="10.00"))
    changed = await outcome(credit, command("change_credit_terms", number, credit_rating="C"))
    assert changed["credit_rating"] == "C"
    assert changed["credit_limit"] == "1000.00"
