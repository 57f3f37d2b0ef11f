"""Errors a handler may raise to the pipeline."""

from __future__ import annotations


class Unprocessable(Exception):
    """A valid message that cannot be applied (it names an account that does not exist, say).

    It is not retried: it goes to the dead letters with this reason, and the rest of its batch
    is applied.
    """


class Contended(Exception):
    """An optimistic attempt cannot stand: what it read changed before it wrote, or it needs
    what only the locking path does. Nothing was written; the pipeline applies the batch again
    on the locking path."""
