"""Reference (a), the ceiling: aiokafka reads the records and decodes their JSON, nothing more.

Two ways, each run as `python -m bench.ceiling ...` by the harness, in its own process like a
worker:
- by default, the fastest a consumer reads here: `getmany` of up to 5,000 records, decoded with
  orjson. This is the ceiling the targets are measured against.
- `--one-at-a-time`: `async for` over the consumer, one record a time, decoded with the standard
  json module, as aiokafka's documentation reads a topic (and, it seems, how the issue measured
  its reference figure of about 62,000 records/s on this machine).
"""

from __future__ import annotations

import asyncio
import json
import time

import orjson
from aiokafka import AIOKafkaConsumer

from bench.references import Window, assigned_reader, parse_offsets, reader_arguments

POLL_RECORDS_MAX = 5_000


async def read(
    bootstrap: str,
    topic: str,
    start: dict[int, int],
    count: int,
    fetch_max_wait_ms: int,
    *,
    one_at_a_time: bool = False,
) -> Window:
    consumer = await assigned_reader(bootstrap, topic, start, fetch_max_wait_ms)
    try:
        began = time.monotonic()
        seen = await (_one_by_one if one_at_a_time else _in_polls)(consumer, count)
        return Window(seen, began, time.monotonic())
    finally:
        await consumer.stop()


async def _in_polls(consumer: AIOKafkaConsumer, count: int) -> int:
    seen = 0
    while seen < count:
        batches = await consumer.getmany(timeout_ms=100, max_records=POLL_RECORDS_MAX)
        for records in batches.values():
            for record in records:
                orjson.loads(record.value or b"null")
            seen += len(records)
    return seen


async def _one_by_one(consumer: AIOKafkaConsumer, count: int) -> int:
    seen = 0
    async for record in consumer:
        json.loads(record.value or b"null")
        seen += 1
        if seen >= count:
            break
    return seen


def main() -> None:
    parser = reader_arguments(__doc__ or "")
    parser.add_argument("--one-at-a-time", action="store_true")
    args = parser.parse_args()
    window = asyncio.run(
        read(
            args.bootstrap,
            args.topic,
            parse_offsets(args.start),
            args.count,
            args.fetch_max_wait_ms,
            one_at_a_time=args.one_at_a_time,
        )
    )
    window.write(args.out)


if __name__ == "__main__":
    main()
