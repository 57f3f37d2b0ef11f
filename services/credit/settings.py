"""The credit worker's settings: the runtime's, plus its own database and rating table."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from services.common.settings import RuntimeSettings


def default_rating_limits() -> dict[str, Decimal]:
    return {
        "A": Decimal("20000.00"),
        "B": Decimal("5000.00"),
        "C": Decimal("1000.00"),
        "D": Decimal("0.00"),
    }


class CreditSettings(RuntimeSettings):
    database_url: str = Field("sqlite:///tabs-credit.db", alias="CREDIT_DATABASE_URL", repr=False)
    # The default credit limit of each credit rating, as JSON: {"A": "20000.00", ...}. A new
    # rating set without a limit brings its default; an account may have its own limit.
    credit_rating_limits: dict[str, Decimal] = Field(
        default_factory=default_rating_limits, alias="CREDIT_RATING_LIMITS"
    )
