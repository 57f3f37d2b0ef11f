"""A dead letter keeps the record whole: its bytes, key, place, group, reason and time."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.dead_letters import dead_letter
from services.common.messages import Record
from shared.dead_letter import DeadLetter

NOW = datetime(2026, 11, 22, 9, 15, tzinfo=UTC)


def test_dead_letter_goes_to_the_topics_dlq_under_the_records_key() -> None:
    record = Record("tally.events.v1", 2, 41, b"a", b'{"add": "three"}')
    letter = dead_letter(record, "add: Input should be a valid integer", "tabs-tally", NOW)
    assert (letter.topic, letter.key) == ("tally.events.v1.dlq", "a")
    parsed = DeadLetter.model_validate_json(letter.value)
    assert parsed.original_text == '{"add": "three"}'
    assert (parsed.topic, parsed.partition, parsed.offset) == ("tally.events.v1", 2, 41)
    assert parsed.consumer_group == "tabs-tally"
    assert parsed.error == "add: Input should be a valid integer"
    assert parsed.failed_at == NOW


def test_bytes_that_are_not_text_are_kept_exactly() -> None:
    raw = b"\xff\xfe\x00tally"
    record = Record("tally.events.v1", 0, 7, b"\xffk", raw)
    parsed = DeadLetter.model_validate_json(dead_letter(record, "not JSON", "g", NOW).value)
    assert parsed.original_text is None
    assert parsed.original_bytes() == raw
    assert parsed.key == "\\xffk"


def test_a_record_without_a_key_has_a_dead_letter_without_one() -> None:
    record = Record("tally.events.v1", 0, 0, None, b"{")
    assert dead_letter(record, "not JSON", "g", NOW).key is None
