"""What the two reference processes share: where to start reading, and how they report."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass(frozen=True)
class Window:
    """What a reference consumed and when (time.monotonic(), comparable across processes)."""

    count: int
    began: float
    ended: float
    replies: int = 0

    def write(self, path: Path) -> None:
        path.write_bytes(orjson.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Window:
        return cls(**orjson.loads(path.read_bytes()))


def offsets_arg(offsets: dict[int, int]) -> str:
    return ",".join(f"{partition}:{offset}" for partition, offset in sorted(offsets.items()))


def parse_offsets(text: str) -> dict[int, int]:
    pairs = (item.split(":") for item in text.split(",") if item)
    return {int(partition): int(offset) for partition, offset in pairs}


def reader_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--start", required=True, help="partition:offset,... to read from")
    parser.add_argument("--count", type=int, required=True, help="records to read, then stop")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True, help="where to write the window")
    return parser


async def assigned_reader(
    bootstrap: str, topic: str, start: dict[int, int], fetch_max_wait_ms: int
) -> AIOKafkaConsumer:
    """A consumer on the given partitions and offsets, outside any group (no join pause)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await consumer.start()
    partitions = {TopicPartition(topic, p): offset for p, offset in start.items()}
    consumer.assign(list(partitions))
    for partition, offset in partitions.items():
        consumer.seek(partition, offset)
    return consumer
