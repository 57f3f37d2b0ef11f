"""How long to wait before trying Mailchimp again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter, never shorter than the server's Retry-After.

    Full jitter spreads the retries of many workers refused at once, so that they do not come
    back together and be refused together again.
    """

    base_s: float
    max_s: float

    def delay_s(
        self, attempt: int, retry_after_s: float | None = None, rng: random.Random | None = None
    ) -> float:
        assert attempt >= 1
        ceiling = min(self.max_s, self.base_s * 2 ** min(attempt - 1, 30))
        jittered = (rng or random).uniform(0, ceiling)
        if retry_after_s is None:
            return jittered
        # The server said when: wait that long at least, plus a little jitter of our own.
        return min(max(retry_after_s, 0.0), self.max_s) + jittered * 0.1


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in delta-seconds (what Mailchimp sends); an HTTP date or junk is ignored."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
