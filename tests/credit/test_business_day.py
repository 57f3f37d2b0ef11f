"""The business day a sale is decided and charged on: the clock's instant in the business zone."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.credit.handlers import CreditHandlers
from services.credit.settings import default_rating_limits


def test_the_business_day_follows_the_clock_across_midnight() -> None:
    handlers = CreditHandlers(ZoneInfo("Pacific/Auckland"), default_rating_limits())
    before = datetime(2026, 11, 24, 10, 59, tzinfo=UTC)  # 23:59 in Auckland (UTC+13)
    after = before + timedelta(minutes=1)
    assert handlers.today(before) == date(2026, 11, 24)
    assert handlers.today(after) == date(2026, 11, 25)
    # Asked again for an earlier instant (a clock set back, a test's clock): its own day.
    assert handlers.today(before) == date(2026, 11, 24)
    # The same instant written in another offset is the same business day.
    assert handlers.today(after.astimezone(ZoneInfo("America/New_York"))) == date(2026, 11, 25)
