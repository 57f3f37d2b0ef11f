"""Ids of the messages a service produces, derived from the message that caused them.

Derived, not random: when a crash makes a worker apply a message again, it produces the same
ids, so downstream consumers recognise the repeat.
"""

from __future__ import annotations

import hashlib
import uuid

_NAMESPACE = uuid.UUID("6f1d3c2e-8a57-4c1b-9e0f-7ab5d2c4e901")
_NAMESPACE_BYTES = _NAMESPACE.bytes
_SEPARATOR = chr(31)


def derived_id(prefix: str, *parts: str) -> str:
    return f"{prefix}-{name_based_uuid(_SEPARATOR.join((prefix, *parts)))}"


def name_based_uuid(name: str) -> str:
    """`str(uuid.uuid5(_NAMESPACE, name))` (RFC 4122 version 5) without building UUID objects:
    a few ids are made per decision, and this is a third of the time."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    hex_ = digest.hex()
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"
