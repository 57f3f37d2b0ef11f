"""Unique names, so that tests sharing one broker and one server never meet."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"
