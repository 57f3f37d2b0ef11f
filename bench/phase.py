"""What a measured phase besides the credit path hands back to the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.verify import Verification


@dataclass
class PhaseOutcome:
    """The phase's figures, and its checks for the run's verification: each check's name and
    what is wrong (nothing when it passed), plus counts to print beside them."""

    figures: dict[str, Any]
    checks: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def add_checks(verification: Verification, phase: PhaseOutcome | None) -> None:
    """The phase's checks and counts join the run's: one failing check fails the run."""
    if phase is None:
        return
    for name, wrong in phase.checks.items():
        verification.check(name, wrong)
    verification.counts |= phase.counts
