"""The statements worker's settings: the runtime's, plus its own database and SMTP."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import RuntimeSettings


class StatementsSettings(RuntimeSettings):
    database_url: str = Field(
        "sqlite:///tabs-statements.db", alias="STATEMENTS_DATABASE_URL", repr=False
    )
    smtp_host: str = Field("127.0.0.1", alias="SMTP_HOST")
    smtp_port: int = Field(25, alias="SMTP_PORT")
    statement_from: str = Field("statements@localhost", alias="STATEMENT_FROM")
