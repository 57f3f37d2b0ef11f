"""The CRM worker's settings: the runtime's, plus its own database, loyalty and Mailchimp."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import RuntimeSettings
from services.crm.domain.program import LoyaltyProgram


class CrmSettings(RuntimeSettings):
    database_url: str = Field("sqlite:///tabs-crm.db", alias="CRM_DATABASE_URL", repr=False)
    # The loyalty program as JSON (see docs/crm.md); left out, the contract's default rule.
    loyalty_rules: LoyaltyProgram = Field(default_factory=LoyaltyProgram, alias="LOYALTY_RULES")
    # How often expired points are taken and tiers that fell behind are lowered.
    loyalty_sweep_interval_s: float = Field(60.0, alias="LOYALTY_SWEEP_INTERVAL_S", gt=0)
    loyalty_sweep_batch_max: int = Field(500, alias="LOYALTY_SWEEP_BATCH_MAX", ge=1)

    mailchimp_api_key: str | None = Field(None, alias="MAILCHIMP_API_KEY", repr=False)
    mailchimp_audience_id: str | None = Field(None, alias="MAILCHIMP_AUDIENCE_ID")
    mailchimp_api_url: str | None = Field(None, alias="MAILCHIMP_API_URL")
    # Mailchimp allows 10 simultaneous connections per account: across every CRM worker and
    # `tabs crm` command, held in Redis (REDIS_URL).
    mailchimp_connections_max: int = Field(10, alias="MAILCHIMP_CONNECTIONS_MAX", ge=1)
    # Without Redis, or while it is down, each process keeps to this many on its own.
    mailchimp_local_connections_max: int = Field(2, alias="MAILCHIMP_LOCAL_CONNECTIONS_MAX", ge=1)
    mailchimp_timeout_s: float = Field(15.0, alias="MAILCHIMP_TIMEOUT_S", gt=0)
    # Tries of one call within a sync pass (429, 5xx, network); then the customer waits in
    # the queue with a growing delay, as long as Mailchimp stays down.
    mailchimp_call_tries_max: int = Field(4, alias="MAILCHIMP_CALL_TRIES_MAX", ge=1)
    mailchimp_backoff_base_s: float = Field(0.25, alias="MAILCHIMP_BACKOFF_BASE_S", gt=0)
    mailchimp_backoff_max_s: float = Field(300.0, alias="MAILCHIMP_BACKOFF_MAX_S", gt=0)
    mailchimp_sync_interval_s: float = Field(1.0, alias="MAILCHIMP_SYNC_INTERVAL_S", gt=0)
    mailchimp_sync_batch_max: int = Field(1000, alias="MAILCHIMP_SYNC_BATCH_MAX", ge=1)
    # A pass with at least this many members goes through one batch operation.
    mailchimp_batch_threshold: int = Field(50, alias="MAILCHIMP_BATCH_THRESHOLD", ge=1)
    mailchimp_batch_poll_interval_s: float = Field(
        1.0, alias="MAILCHIMP_BATCH_POLL_INTERVAL_S", gt=0
    )
    mailchimp_batch_wait_max_s: float = Field(600.0, alias="MAILCHIMP_BATCH_WAIT_MAX_S", gt=0)
    # The secret path segment of the webhook URL: /webhooks/mailchimp/<secret>. Unset, the
    # receiver answers 404 to everything.
    mailchimp_webhook_secret: str | None = Field(
        None, alias="MAILCHIMP_WEBHOOK_SECRET", repr=False, min_length=16
    )

    @property
    def mailchimp_configured(self) -> bool:
        return bool(self.mailchimp_api_key and self.mailchimp_audience_id)
