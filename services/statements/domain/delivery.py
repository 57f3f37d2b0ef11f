"""After each attempt to email a statement: sent, tried again later, failed, or unknown.

The state "sending" is committed before the mail server is called, so a worker that stops in
the middle leaves a statement in "sending". Nobody can tell whether the server took the message,
so it is never sent again on its own: it becomes "unconfirmed" and needs a person (who can ask
for it again with a `deliver: true` request; the Message-ID is the same, so a duplicate is
recognisable in the customer's mailbox).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

DeliveryState = Literal["rendered", "pending", "sending", "sent", "failed", "unconfirmed"]
"""`rendered`: made, not to be emailed. `pending`: to be emailed at `next_attempt_at`.
`sending`: handed to the mail server under a lease. `sent`, `failed`: final. `unconfirmed`:
the worker stopped while sending; needs attention."""

# Statuses on statements.sent.v1: an unconfirmed delivery is reported as failed, with why.
PUBLISHED_STATUS: dict[DeliveryState, Literal["sent", "rendered", "failed"]] = {
    "rendered": "rendered",
    "sent": "sent",
    "failed": "failed",
    "unconfirmed": "failed",
}


@dataclass(frozen=True)
class Accepted:
    """The mail server took the message (it answered 250 to the data)."""


@dataclass(frozen=True)
class Refused:
    """The message was not taken: the server said no, or could not be reached. `permanent`
    when the server answered 5xx: the same message will never be taken."""

    reason: str
    permanent: bool


@dataclass(frozen=True)
class Unanswered:
    """The message went out but the server's answer never came: it may have been taken."""

    reason: str


Attempt = Accepted | Refused | Unanswered


@dataclass(frozen=True)
class RetryPolicy:
    attempts_max: int
    backoff: timedelta
    backoff_max: timedelta

    def __post_init__(self) -> None:
        assert self.attempts_max >= 1

    def delay(self, attempts_made: int) -> timedelta:
        """Doubles after each failed attempt, capped."""
        doublings: int = 2 ** min(attempts_made - 1, 30)
        return min(self.backoff_max, self.backoff * doublings)


@dataclass(frozen=True)
class Sent:
    pass


@dataclass(frozen=True)
class RetryAt:
    when: datetime
    detail: str


@dataclass(frozen=True)
class Failed:
    detail: str


@dataclass(frozen=True)
class Unconfirmed:
    detail: str


Outcome = Sent | RetryAt | Failed | Unconfirmed


def after_attempt(
    attempt: Attempt, attempts_made: int, policy: RetryPolicy, now: datetime
) -> Outcome:
    if isinstance(attempt, Accepted):
        return Sent()
    if isinstance(attempt, Unanswered):
        return Unconfirmed(f"delivery unconfirmed: {attempt.reason}")
    if attempt.permanent:
        return Failed(f"the mail server refused the statement: {attempt.reason}")
    if attempts_made >= policy.attempts_max:
        return Failed(f"not delivered after {attempts_made} attempts: {attempt.reason}")
    return RetryAt(now + policy.delay(attempts_made), attempt.reason)


def stalled_detail(message_id: str) -> str:
    return (
        "delivery unconfirmed: the worker stopped while sending, so the mail server may or may "
        f"not have taken Message-ID {message_id}; check its log, and request the statement "
        "with deliver: true to send it again"
    )
