"""The credit worker's settings: the runtime's, plus its own database."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import RuntimeSettings


class CreditSettings(RuntimeSettings):
    database_url: str = Field("sqlite:///tabs-credit.db", alias="CREDIT_DATABASE_URL", repr=False)
