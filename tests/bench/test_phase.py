"""A phase's failed check fails the whole run's verification."""

from __future__ import annotations

from bench.phase import PhaseOutcome, add_checks
from bench.verify import Verification


def test_a_phase_check_that_found_something_wrong_fails_the_run() -> None:
    verification = Verification()
    verification.check("ledger", [])
    add_checks(verification, None)
    add_checks(verification, PhaseOutcome({}, {"audience": []}, {"members": 3}))
    assert verification.passed
    assert verification.counts == {"members": 3}
    add_checks(verification, PhaseOutcome({}, {"emails": ["ACC-1 got 2 emails"]}))
    assert not verification.passed
    assert verification.checks == {"ledger": True, "audience": True, "emails": False}
    assert verification.problems == ["emails: ACC-1 got 2 emails"]
