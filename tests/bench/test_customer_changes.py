"""The Mailchimp phase's workload, its audience check, and its call figures."""

from __future__ import annotations

from dataclasses import replace

import orjson

from bench.audience import call_figures
from bench.customer_changes import (
    ROUNDS,
    ExpectedMember,
    audience_problems,
    customer_changes,
    expected_member,
)
from services.crm.domain.drift import AudienceMember


def _audience(expected: dict[str, ExpectedMember]) -> list[AudienceMember]:
    """The audience a correct sync leaves: opted-in customers subscribed, nobody else."""
    return [
        AudienceMember(e.email, "subscribed", dict(e.merge_fields), e.tags)
        for e in expected.values()
        if e.opted_in
    ]


def test_every_customer_changes_several_times_in_rounds() -> None:
    plan = customer_changes(40, seed=3, prefix="r-")
    assert plan.changes == 40 * ROUNDS
    assert plan == customer_changes(40, seed=3, prefix="r-")
    changes = [orjson.loads(r.value) for r in plan.records]
    assert [r.key.decode() for r in plan.records] == [c["customer_id"] for c in changes]
    first_round = {c["customer_id"] for c in changes[:40]}
    assert first_round == set(plan.expected)  # every customer is created before any update
    assert all(c["marketing_opt_in"] is True for c in changes[:40])
    assert len({c["event_id"] for c in changes}) == plan.changes
    opted_out = [e for e in plan.expected.values() if not e.opted_in]
    assert len(opted_out) == 8
    rounds = plan.rounds()
    assert len(rounds) == ROUNDS and [r for round_ in rounds for r in round_] == plan.records
    assert all({r.key for r in round_} == {r.key for r in rounds[0]} for round_ in rounds)


def test_the_expected_member_is_the_merge_of_every_change() -> None:
    fields = {
        "email": "pat@bench.example",
        "first_name": "Pat",
        "mobile": "+6421",
        "birthday": "1980-04-17",
        "tags": ["b", "a"],
        "marketing_opt_in": True,
    }
    member = expected_member(fields | {"first_name": "Patricia", "last_name": None})
    assert member == ExpectedMember(
        "pat@bench.example",
        True,
        {"FNAME": "Patricia", "LNAME": "", "PHONE": "+6421", "BIRTHDAY": "04/17"},
        ("a", "b"),
    )
    assert not expected_member(fields | {"marketing_opt_in": None}).opted_in


def test_the_audience_of_a_correct_sync_passes() -> None:
    expected = customer_changes(30, seed=1, prefix="p-").expected
    members = _audience(expected)
    assert audience_problems(expected, members) == []
    withdrawn = next(e for e in expected.values() if not e.opted_in)
    unsubscribed = AudienceMember(withdrawn.email, "unsubscribed", {}, ())
    archived = AudienceMember("gone@bench.example", "archived", {}, ())
    assert audience_problems(expected, [*members, unsubscribed, archived]) == []


def test_the_audience_check_names_each_difference() -> None:
    expected = customer_changes(30, seed=1, prefix="p-").expected
    members = _audience(expected)
    ids = {e.email: c for c, e in expected.items()}
    missing, renamed, retagged, *rest = members
    renamed = replace(renamed, merge_fields={**renamed.merge_fields, "FNAME": "Old"})
    retagged = replace(retagged, tags=("bench",))
    withdrawn = next(e for e in expected.values() if not e.opted_in)
    still_subscribed = AudienceMember(withdrawn.email, "subscribed", {}, ())
    stranger = AudienceMember("who@bench.example", "subscribed", {}, ())
    problems = audience_problems(expected, [renamed, retagged, *rest, still_subscribed, stranger])
    assert len(problems) == 5, problems
    assert problems_naming(problems, ids[missing.email]) == ["no member"]
    assert problems_naming(problems, ids[renamed.email]) == ["merge fields"]
    assert problems_naming(problems, ids[retagged.email]) == ["tags"]
    assert any("withdrew consent, member is subscribed" in p for p in problems)
    assert any(p.startswith("who@bench.example is subscribed") for p in problems)


def problems_naming(problems: list[str], customer_id: str) -> list[str]:
    kinds = ("no member", "merge fields", "tags")
    return [k for p in problems if p.startswith(customer_id) for k in kinds if k in p]


def test_call_figures_against_one_call_per_change() -> None:
    counts = {"POST /batches": 1, "GET /batches/{batch_id}": 2, "PUT /lists/{list_id}/x": 3}
    figures = call_figures(counts, batch_operations=200, changes=1_000)
    assert figures["api_calls"] == 6
    assert figures["calls_per_1000_changes"] == 6.0
    assert figures["naive_calls"] == 1_000
    assert figures["naive_calls_per_1000_changes"] == 1000.0
    assert figures["calls_share_of_naive"] == 0.006
    assert figures["member_operations"] == 203  # the 3 direct calls and the batch's 200
    assert figures["member_operations_per_1000_changes"] == 203.0
    assert call_figures({}, 0, 0)["calls_per_1000_changes"] == 0.0
