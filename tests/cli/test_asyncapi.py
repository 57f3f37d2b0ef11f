"""The committed AsyncAPI documents are what the FastStream apps generate today."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli.docs import document
from services.cli.registry import ServiceName

DOCS = Path(__file__).parents[2] / "docs" / "asyncapi"


@pytest.mark.parametrize("service", list(ServiceName))
def test_committed_asyncapi_document_matches_the_app(service: ServiceName) -> None:
    committed = (DOCS / f"{service.value}.json").read_text()
    assert document(service) == committed, (
        f"docs/asyncapi/{service.value}.json drifted from the code: run `tabs asyncapi`"
    )
