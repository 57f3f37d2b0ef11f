"""Settings shared by every worker, read from the environment of CONTRACT.md."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    """What every worker needs: the broker, Redis, HTTP and the consumer's tuning.

    Consumer timings default to values valid on Apache Kafka (whose brokers refuse session
    timeouts under 6 s); `tabs up` and the tests lower them for the embedded broker.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    http_host: str = Field("127.0.0.1", alias="HTTP_HOST")
    http_port: int = Field(8080, alias="HTTP_PORT")
    api_tokens: str = Field("", alias="API_TOKENS", repr=False)
    topic_partitions: int = Field(6, alias="TOPIC_PARTITIONS", ge=1)
    # Only for topics a worker creates because they are missing; production creates its topics
    # beforehand (replication 3, min.insync.replicas 2: see deploy/).
    topic_replication_factor: int = Field(1, alias="TOPIC_REPLICATION_FACTOR", ge=1)

    topic_prefix: str = Field("", alias="TABS_TOPIC_PREFIX")
    consumer_group_prefix: str = Field("tabs", alias="TABS_CONSUMER_GROUP_PREFIX")
    session_timeout_ms: int = Field(10_000, alias="KAFKA_SESSION_TIMEOUT_MS", ge=1000)
    heartbeat_interval_ms: int = Field(3_000, alias="KAFKA_HEARTBEAT_INTERVAL_MS", ge=100)
    # Kafka's own default. Apache Kafka answers a fetch as soon as data arrives, so this only
    # bounds how often an idle consumer asks. The embedded broker does not wake a waiting
    # fetch (it re-polls, so latency is about half of this) and gives up listing a partition's
    # record batches when this runs out: `tabs up` sets 100 (docs/performance.md, "The
    # embedded broker's fetch").
    fetch_max_wait_ms: int = Field(500, alias="KAFKA_FETCH_MAX_WAIT_MS", ge=1)
    # Per consumer: a worker holds up to consumers x this many records at once (memory). When
    # keeping up, batches are small whatever the bound (docs/performance.md).
    batch_size_max: int = Field(500, alias="TABS_BATCH_SIZE_MAX", ge=1)
    # A consumer that has caught up (its batch was smaller than the maximum) fetches again no
    # sooner than this after its last batch arrived: fewer, larger batches at a steady rate
    # (each one transaction and one fetch fewer), for at most this much more latency.
    fetch_linger_ms: int = Field(20, alias="TABS_FETCH_LINGER_MS", ge=0, le=1_000)
    # Consumers in one worker process, each with its share of the partitions: while one waits
    # for the database, another applies its batch; two drain a backlog ~1.4-1.6x faster than
    # one (docs/performance.md). They join the group together.
    consumers: int = Field(2, alias="TABS_CONSUMERS", ge=1, le=16)
    outbox_sweep_interval_s: float = Field(1.0, alias="TABS_OUTBOX_SWEEP_INTERVAL_S", gt=0)
    retry_backoff_max_s: float = Field(5.0, alias="TABS_RETRY_BACKOFF_MAX_S", gt=0)
    # On PostgreSQL, a batch of one topic whose handler can (the credit worker's sales) is
    # first applied from one unlocked read and one guarded statement of writes, and again on
    # the locking path if what it read changed meanwhile (docs/architecture.md). Off: always
    # the locking path (a transaction, row locks), as SQLite always is.
    unlocked_reads: bool = Field(True, alias="TABS_UNLOCKED_READS")
    business_timezone: str = Field("Pacific/Auckland", alias="BUSINESS_TIMEZONE")

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _strip_scheme(cls, value: str) -> str:
        # `tcp://host:port` is how Tansu names a listener; Kafka clients want `host:port`.
        return ",".join(part.removeprefix("tcp://").strip() for part in value.split(","))

    @property
    def tokens(self) -> frozenset[str]:
        return frozenset(token.strip() for token in self.api_tokens.split(",") if token.strip())

    def topic(self, name: str) -> str:
        """The broker's name for a contract topic (a prefix isolates tests on one broker)."""
        return f"{self.topic_prefix}{name}"
