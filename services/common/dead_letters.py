"""Dead letters: a record the service cannot use, kept whole with the reason."""

from __future__ import annotations

from datetime import datetime

from services.common.messages import Outgoing, Record
from shared.dead_letter import DeadLetter, dead_letter_key
from shared.topics import dead_letter_topic


def dead_letter(record: Record, error: str, consumer_group: str, now: datetime) -> Outgoing:
    letter = DeadLetter.from_record(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        original=record.value,
        consumer_group=consumer_group,
        error=error,
        failed_at=now,
    )
    return Outgoing.of(dead_letter_topic(record.topic), dead_letter_key(letter), letter)
