"""The CRM worker's settings: the runtime's, plus its own database and Mailchimp."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import RuntimeSettings


class CrmSettings(RuntimeSettings):
    database_url: str = Field("sqlite:///tabs-crm.db", alias="CRM_DATABASE_URL", repr=False)
    mailchimp_api_key: str | None = Field(None, alias="MAILCHIMP_API_KEY", repr=False)
    mailchimp_audience_id: str | None = Field(None, alias="MAILCHIMP_AUDIENCE_ID")
    mailchimp_api_url: str | None = Field(None, alias="MAILCHIMP_API_URL")
