"""After each attempt to email: sent, retried with capped backoff, failed, or unconfirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.statements.domain.delivery import (
    Accepted,
    Failed,
    Refused,
    RetryAt,
    RetryPolicy,
    Sent,
    Unanswered,
    Unconfirmed,
    after_attempt,
)

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts_max=4, backoff=timedelta(minutes=1), backoff_max=timedelta(minutes=3))


def test_accepted_message_is_sent() -> None:
    assert after_attempt(Accepted(), 1, POLICY, NOW) == Sent()


def test_unreachable_server_is_tried_again_later_doubling_up_to_the_cap() -> None:
    refused = Refused("cannot reach smtp:25", permanent=False)

    delays = [after_attempt(refused, n, POLICY, NOW) for n in (1, 2, 3)]

    assert delays == [
        RetryAt(NOW + timedelta(minutes=1), "cannot reach smtp:25"),
        RetryAt(NOW + timedelta(minutes=2), "cannot reach smtp:25"),
        RetryAt(NOW + timedelta(minutes=3), "cannot reach smtp:25"),
    ]


def test_last_attempt_fails_with_the_reason() -> None:
    outcome = after_attempt(Refused("421 try later", permanent=False), 4, POLICY, NOW)

    assert outcome == Failed("not delivered after 4 attempts: 421 try later")


def test_permanent_refusal_fails_at_once() -> None:
    outcome = after_attempt(Refused("550 no such user", permanent=True), 1, POLICY, NOW)

    assert isinstance(outcome, Failed)
    assert "550 no such user" in outcome.detail


def test_message_sent_without_an_answer_is_unconfirmed_never_retried() -> None:
    outcome = after_attempt(Unanswered("timed out"), 1, POLICY, NOW)

    assert outcome == Unconfirmed("delivery unconfirmed: timed out")


def test_backoff_of_many_attempts_stays_at_the_cap() -> None:
    assert POLICY.delay(500) == timedelta(minutes=3)
