from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.dead_letter import ERROR_CHARS_MAX, DeadLetter
from shared.wire import dumps, load_dead_letter

FAILED_AT = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)


def letter(original: bytes | None, error: str = "total: money is a decimal string") -> DeadLetter:
    return DeadLetter.from_record(
        topic="pos.sales.v1",
        partition=3,
        offset=42,
        key=b"ACC-0001",
        consumer_group="credit",
        error=error,
        failed_at=FAILED_AT,
        original=original,
    )


def test_utf8_original_kept_as_readable_text() -> None:
    dead = letter(b'{"total": 125.5}')
    assert (dead.original_text, dead.original_b64) == ('{"total": 125.5}', None)


def test_binary_original_kept_as_base64() -> None:
    dead = letter(b"\xff\x00\xfe")
    assert (dead.original_text, dead.original_b64) == (None, "/wD+")


def test_tombstone_kept_as_empty_bytes() -> None:
    assert letter(None).original_bytes() == b""


def test_long_error_truncated_to_keep_the_letter_small() -> None:
    assert len(letter(b"{}", error="x" * 100_000).error) == ERROR_CHARS_MAX


def test_dead_letter_rejected_without_exactly_one_original() -> None:
    fields = dict(letter(b"{}").model_dump(), original_text=None)
    with pytest.raises(ValidationError, match="exactly one"):
        DeadLetter.model_validate(fields)
    with pytest.raises(ValidationError, match="exactly one"):
        DeadLetter.model_validate({**fields, "original_text": "{}", "original_b64": "e30="})


def test_dead_letter_rejected_with_malformed_base64() -> None:
    fields = dict(letter(b"{}").model_dump(), original_text=None, original_b64="not base64!")
    with pytest.raises(ValidationError, match="base64"):
        DeadLetter.model_validate(fields)


@given(st.binary(max_size=2048))
def test_original_bytes_survive_the_dead_letter_topic(original: bytes) -> None:
    assert load_dead_letter(dumps(letter(original))).original_bytes() == original
