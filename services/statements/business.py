"""Who a statement comes from, and how to pay them (operators set it: see settings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Business:
    name: str
    address_lines: tuple[str, ...] = ()
    contact: str = ""
    logo_path: Path | None = None
    payment_instructions: str = ""
