"""Backoff before trying Mailchimp again."""

from __future__ import annotations

import random

from services.crm.mailchimp.backoff import Backoff, parse_retry_after


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(base_s=1.0, max_s=8.0)
    rng = random.Random(7)
    delays = [max(backoff.delay_s(attempt, rng=rng) for _ in range(200)) for attempt in (1, 3, 9)]
    assert delays[0] <= 1.0 < delays[1] <= 4.0 < delays[2] <= 8.0


def test_retry_after_is_a_floor() -> None:
    backoff = Backoff(base_s=0.1, max_s=60.0)
    assert all(backoff.delay_s(1, retry_after_s=3.0) >= 3.0 for _ in range(100))


def test_retry_after_is_read_as_delta_seconds_only() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-1") is None
