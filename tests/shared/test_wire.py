import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.statements import StatementRequest
from shared.wire import best_effort_fields, dumps, load, load_command, load_sale


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"\xff\xfe{}", b"[]", b'"text"', b"null", b'{"event_id": "e"', None]
)
def test_unusable_bytes_raise_validation_error(raw: bytes | None) -> None:
    with pytest.raises(ValidationError):
        load_sale(raw)


def test_deeply_nested_json_raises_validation_error() -> None:
    with pytest.raises(ValidationError):
        load_command(b"[" * 100_000)


def test_leading_byte_order_mark_ignored() -> None:
    raw = b'\xef\xbb\xbf{"event_id": "r", "account_number": "A", "period_end": "2026-11-30"}'
    assert load(StatementRequest, raw).account_number == "A"


def test_dumps_writes_utf8_json_with_nulls() -> None:
    request = StatementRequest(event_id="r-\u00e9", account_number="A", period_end="2026-11-30")
    wire = dumps(request)
    assert json.loads(wire.decode("utf-8")) == {
        "event_id": "r-\u00e9",
        "account_number": "A",
        "period_end": "2026-11-30",
        "deliver": True,
        "occurred_at": None,
    }


def test_best_effort_fields_reads_ids_from_an_invalid_message() -> None:
    raw = b'{"event_id": "e-1", "sale_id": "S-1", "total": 125.5, "store_id": 7, "lines": "x"}'
    assert best_effort_fields(raw, "event_id", "sale_id", "store_id", "terminal_id") == {
        "event_id": "e-1",
        "sale_id": "S-1",
    }


def test_best_effort_fields_survives_a_bad_byte_elsewhere() -> None:
    raw = b'{"event_id": "e-1", "description": "caf\xe9"}'
    assert best_effort_fields(raw, "event_id") == {"event_id": "e-1"}


def test_best_effort_fields_skips_values_too_long_to_be_ids() -> None:
    raw = json.dumps({"event_id": "e" * 201, "sale_id": ""}).encode()
    assert best_effort_fields(raw, "event_id", "sale_id") == {}


@pytest.mark.parametrize(
    "raw", [None, b"", b"[1]", b"[" * 100_000, b'{"a": 1e999999}', b"1" * 5000]
)
def test_best_effort_fields_returns_nothing_for_unreadable_payloads(raw: bytes | None) -> None:
    assert best_effort_fields(raw, "a", "event_id") == {}


@given(st.binary(max_size=512))
def test_best_effort_fields_never_raises(raw: bytes) -> None:
    assert isinstance(best_effort_fields(raw, "event_id"), dict)


# A small alphabet keeps generation fast; length and type are what matter here.
values = st.text(alphabet="e1 \n\u00e9", max_size=300) | st.integers() | st.none()


@given(st.dictionaries(st.sampled_from(["event_id", "x"]), values))
def test_best_effort_fields_returns_only_short_strings(document: dict[str, object]) -> None:
    found = best_effort_fields(json.dumps(document).encode(), "event_id", "x")
    assert all(isinstance(v, str) and 0 < len(v) <= 200 for v in found.values())


def test_best_effort_fields_skips_values_that_are_not_valid_ids() -> None:
    raw = json.dumps({"event_id": " e-1", "sale_id": "S-1\n", "store_id": "store-1"}).encode()
    assert best_effort_fields(raw, "event_id", "sale_id", "store_id") == {"store_id": "store-1"}
