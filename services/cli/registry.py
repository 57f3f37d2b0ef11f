"""The workers `tabs` can run. The command is the one place that knows all three services."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import StrEnum

from services.common.service import ServiceSpec
from services.common.settings import RuntimeSettings


class ServiceName(StrEnum):
    credit = "credit"
    crm = "crm"
    statements = "statements"


@dataclass(frozen=True)
class Entry:
    spec: ServiceSpec
    settings: type[RuntimeSettings]
    database_env: str


def load(name: ServiceName) -> Entry:
    app = importlib.import_module(f"services.{name.value}.app")
    settings = importlib.import_module(f"services.{name.value}.settings")
    settings_class = next(
        value
        for key, value in vars(settings).items()
        if key.endswith("Settings") and key != "RuntimeSettings"
    )
    return Entry(app.SPEC, settings_class, f"{name.value.upper()}_DATABASE_URL")
