"""The AsyncAPI documents, generated from each service's FastStream app."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from pathlib import Path

from services.cli.registry import ServiceName, load
from services.common.messages import Record
from services.common.settings import RuntimeSettings
from services.common.worker import build_app

# The documented server: production's address, not whatever this machine's environment says.
_DOCUMENTED_SETTINGS = {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "TABS_TOPIC_PREFIX": ""}


async def _never(_: Sequence[Record]) -> Awaitable[None]:  # pragma: no cover - docs only
    raise RuntimeError("a documentation app does not consume")


def document(service: ServiceName) -> str:
    entry = load(service)
    settings = RuntimeSettings.model_validate(_DOCUMENTED_SETTINGS)
    app, _ = build_app(entry.spec, settings, _never)
    schema = json.loads(app.schema.to_specification().to_json())
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_documents(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for service in ServiceName:
        if not _has_app(service):
            continue
        path = out / f"{service.value}.json"
        path.write_text(document(service))
        written.append(path)
    return written


def _has_app(service: ServiceName) -> bool:
    return (Path(__file__).parent.parent / service.value / "app.py").exists()
