"""What one bench run does: counts, rates and where the database lives."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

ProfilePhase = Literal["drain", "offered"]


@dataclass(frozen=True)
class BenchConfig:
    """One run. Every count and duration has a bound, so a run always ends."""

    tills: int = 50
    accounts: int = 2_000
    # One process per core of the 2-core machine the targets are set on, one consumer each:
    # two processes applied in parallel drained 1.6x what one did with two consumers, at a
    # lower p99 (docs/performance.md, "How it scales").
    workers: int = 2
    consumers: int = 1  # per credit worker process (TABS_CONSUMERS)
    # Per topic; 0: one per consumer of the group (workers x consumers). On the embedded broker
    # every fetch lists each of its partitions' record batches, so partitions a consumer does
    # not need cost the broker CPU at a steady rate: at 2,000/s, 6 partitions against 2 took
    # the broker from 0.34 to 0.60 of a core by the end of a run, and p99 from 72-78 to
    # 124-132 ms (docs/performance.md, "Session 10").
    partitions: int = 0
    # Open-loop phase: the offered rate and how long it is offered (the latency figure).
    rate_per_s: float = 2_000.0
    rate_duration_s: float = 20.0
    # Throughput phase: sale events published while the workers are stopped, then drained.
    backlog: int = 60_000
    # The naive handler manages ~100-200/s here: it gets the backlog's first records only.
    naive_records: int = 6_000
    database_url: str | None = None  # a PostgreSQL server to create databases on
    sqlite: bool = False
    redis: bool = False
    # The workers'. On the embedded broker a fetch lists every record batch of a partition and
    # returns nothing if that takes longer than this: 5 ms stalled the workers within a 20 s
    # run at 2,000/s (docs/performance.md, "The embedded broker's fetch").
    fetch_max_wait_ms: int = 100
    # The workers' TABS_FETCH_LINGER_MS (the service's default): at 2,000/s, 20 ms took p99
    # from 105-152 ms to 62-90 ms (docs/performance.md, "A caught-up consumer lingers").
    fetch_linger_ms: int = 20
    # The tills' producer: how long a record may wait for others going to the same partition.
    # 5 ms is the Java producer's default since Kafka 4.0 and librdkafka's; latency includes it.
    tills_linger_ms: int = 5
    # The harness's consumer of the offered phase's decisions (its latency includes it).
    collector_fetch_max_wait_ms: int = 5
    batch_size_max: int = 500
    # The workers' TABS_UNLOCKED_READS (the service's default): off, every batch takes locks.
    unlocked_reads: bool = True
    loyalty: bool = False
    loyalty_sales: int = 20_000
    # Mailchimp: ROUNDS (4) changes per customer through the CRM worker and the stand-in.
    mailchimp: bool = False
    mailchimp_customers: int = 250
    mailchimp_round_gap_s: float = 0.0  # between rounds of changes; 0: one burst
    # Statements: one on-demand statement per account, rendered and emailed over SMTP.
    statements: bool = False
    statements_accounts: int = 500
    statements_delivery_interval_s: float = 5.0  # the service's STATEMENT_DELIVERY_INTERVAL_S
    profile_path: Path | None = None
    profile_phase: ProfilePhase = "drain"  # which phase --profile samples
    json_path: Path | None = None
    work_dir: Path | None = None  # kept after the run (logs, databases); else a temporary one
    seed: int = 7
    # Rounds of the machine's calibration, before and after the run (bench/machine.py).
    calibration_rounds: int = 3
    drain_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.partitions == 0:
            object.__setattr__(self, "partitions", self.workers * self.consumers)

    def quick(self) -> BenchConfig:
        """Small counts: the whole run, start-up included, in well under a minute."""
        return replace(
            self,
            tills=10,
            accounts=100,
            rate_per_s=min(self.rate_per_s, 300.0),
            rate_duration_s=3.0,
            backlog=3_000,
            naive_records=1_000,
            loyalty_sales=2_000,
            mailchimp=True,
            mailchimp_customers=50,
            statements=True,
            statements_accounts=30,
            statements_delivery_interval_s=min(self.statements_delivery_interval_s, 1.0),
            drain_timeout_s=60.0,
            calibration_rounds=1,
        )
