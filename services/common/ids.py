"""Ids of the messages a service produces, derived from the message that caused them.

Derived, not random: when a crash makes a worker apply a message again, it produces the same
ids, so downstream consumers recognise the repeat.
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1d3c2e-8a57-4c1b-9e0f-7ab5d2c4e901")


def derived_id(prefix: str, *parts: str) -> str:
    return f"{prefix}-{uuid.uuid5(_NAMESPACE, chr(31).join((prefix, *parts)))}"
