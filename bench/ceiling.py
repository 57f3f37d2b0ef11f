"""Reference (a), the ceiling: aiokafka reads the records and decodes their JSON, nothing more.

Run as `python -m bench.ceiling ...` by the harness, in its own process like a worker.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from bench.references import Window, assigned_reader, parse_offsets, reader_arguments

POLL_RECORDS_MAX = 5_000


async def read(
    bootstrap: str, topic: str, start: dict[int, int], count: int, fetch_max_wait_ms: int
) -> Window:
    consumer = await assigned_reader(bootstrap, topic, start, fetch_max_wait_ms)
    try:
        seen = 0
        began = time.monotonic()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=100, max_records=POLL_RECORDS_MAX)
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value or b"null")
                seen += len(records)
        return Window(seen, began, time.monotonic())
    finally:
        await consumer.stop()


def main() -> None:
    args = reader_arguments(__doc__ or "").parse_args()
    window = asyncio.run(
        read(
            args.bootstrap,
            args.topic,
            parse_offsets(args.start),
            args.count,
            args.fetch_max_wait_ms,
        )
    )
    window.write(args.out)


if __name__ == "__main__":
    main()
