"""Statement periods: month ends, leap years, weeks, days, and the business time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.statements.domain.schedule import (
    Frequency,
    Period,
    add_months,
    business_day,
    last_closed_day,
    next_period,
    nth_period_end,
    period_containing,
    period_end_before,
    period_end_on_or_after,
    period_ending,
)

AUCKLAND = ZoneInfo("Pacific/Auckland")


def ends(frequency: Frequency, count: int, start: int = 0) -> list[date]:
    return [nth_period_end(frequency, n) for n in range(start, start + count)]


def test_monthly_anchor_on_the_31st_gives_each_month_end_and_returns_to_the_31st() -> None:
    monthly = Frequency(1, "month", date(2026, 1, 31))

    assert ends(monthly, 4) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]


def test_monthly_anchor_on_the_31st_gives_feb_29_in_a_leap_year() -> None:
    monthly = Frequency(1, "month", date(2027, 1, 31))

    assert nth_period_end(monthly, 13) == date(2028, 2, 29)
    assert nth_period_end(monthly, 14) == date(2028, 3, 31)


def test_monthly_anchor_on_feb_29_stays_on_the_29th_when_a_month_has_it() -> None:
    monthly = Frequency(1, "month", date(2028, 2, 29))

    assert ends(monthly, 3) == [date(2028, 2, 29), date(2028, 3, 29), date(2028, 4, 29)]
    assert nth_period_end(monthly, 12) == date(2029, 2, 28)


def test_months_are_counted_from_the_anchor_backwards_too() -> None:
    monthly = Frequency(1, "month", date(2026, 12, 1))

    assert ends(monthly, 3, start=-2) == [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]


def test_quarterly_periods_every_three_months() -> None:
    quarterly = Frequency(3, "month", date(2026, 3, 31))

    assert ends(quarterly, 4) == [
        date(2026, 3, 31),
        date(2026, 6, 30),
        date(2026, 9, 30),
        date(2026, 12, 31),
    ]


def test_fortnightly_periods_from_a_sunday() -> None:
    fortnightly = Frequency(2, "week", date(2026, 11, 29))

    period = period_containing(fortnightly, date(2026, 12, 1))

    assert period == Period(date(2026, 11, 30), date(2026, 12, 13))


def test_weekly_period_containing_its_own_end_is_that_week() -> None:
    weekly = Frequency(1, "week", date(2026, 11, 29))

    assert period_containing(weekly, date(2026, 11, 29)) == Period(
        date(2026, 11, 23), date(2026, 11, 29)
    )


def test_daily_periods_are_single_days() -> None:
    daily = Frequency(1, "day", date(2026, 1, 1))

    assert period_containing(daily, date(2026, 11, 30)) == Period(
        date(2026, 11, 30), date(2026, 11, 30)
    )


def test_every_ten_days_from_an_anchor_in_the_future() -> None:
    tens = Frequency(10, "day", date(2027, 1, 10))

    assert period_end_on_or_after(tens, date(2026, 12, 25)) == date(2026, 12, 31)
    assert period_end_before(tens, date(2026, 12, 31)) == date(2026, 12, 21)


def test_monthly_period_containing_a_day_after_a_short_month() -> None:
    monthly = Frequency(1, "month", date(2026, 1, 31))

    assert period_containing(monthly, date(2026, 3, 1)) == Period(
        date(2026, 3, 1), date(2026, 3, 31)
    )
    assert period_containing(monthly, date(2026, 2, 28)) == Period(
        date(2026, 2, 1), date(2026, 2, 28)
    )


def test_on_demand_period_end_inside_a_period_starts_with_that_period() -> None:
    monthly = Frequency(1, "month", date(2026, 1, 31))

    assert period_ending(monthly, date(2026, 11, 15)) == Period(
        date(2026, 11, 1), date(2026, 11, 15)
    )


def test_next_period_starts_the_day_after_even_when_the_schedule_changed() -> None:
    weekly = Frequency(1, "week", date(2026, 12, 6))
    last_monthly = Period(date(2026, 11, 1), date(2026, 11, 30))

    assert next_period(weekly, last_monthly) == Period(date(2026, 12, 1), date(2026, 12, 6))


def test_add_months_clamps_to_the_end_of_a_short_month() -> None:
    assert add_months(date(2026, 8, 31), 1) == date(2026, 9, 30)
    assert add_months(date(2026, 1, 31), -2) == date(2025, 11, 30)


def test_business_day_is_the_date_in_the_business_time_zone() -> None:
    moment = datetime(2026, 11, 30, 11, 30, tzinfo=UTC)  # 00:30 on 1 Dec in Auckland (+13)

    assert business_day(moment, AUCKLAND) == date(2026, 12, 1)
    assert business_day(moment, UTC) == date(2026, 11, 30)


def test_period_is_closed_at_local_midnight_plus_the_delay() -> None:
    delay = timedelta(minutes=15)
    midnight = datetime(2026, 12, 1, tzinfo=AUCKLAND)

    assert last_closed_day(midnight + timedelta(minutes=14), AUCKLAND, delay) == date(2026, 11, 29)
    assert last_closed_day(midnight + timedelta(minutes=15), AUCKLAND, delay) == date(2026, 11, 30)


def test_period_closes_at_local_midnight_across_the_daylight_saving_change() -> None:
    # New Zealand daylight time starts at 02:00 on 27 Sep 2026 (+12 to +13).
    after_change = datetime(2026, 9, 28, 0, 0, tzinfo=AUCKLAND)

    assert after_change.utcoffset() == timedelta(hours=13)
    assert last_closed_day(after_change, AUCKLAND, timedelta(0)) == date(2026, 9, 27)
    assert last_closed_day(after_change - timedelta(seconds=1), AUCKLAND, timedelta(0)) == date(
        2026, 9, 26
    )


frequencies = st.builds(
    Frequency,
    every=st.integers(min_value=1, max_value=36),
    unit=st.sampled_from(["day", "week", "month"]),
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
)
days = st.dates(min_value=date(2001, 1, 1), max_value=date(2039, 12, 31))


@given(frequency=frequencies, day=days)
def test_every_day_falls_in_exactly_one_period_of_consecutive_periods(
    frequency: Frequency, day: date
) -> None:
    period = period_containing(frequency, day)
    following = next_period(frequency, period)

    assert day in period
    assert period.end == period_end_on_or_after(frequency, day)
    assert following.start == period.end + timedelta(days=1)
    assert period_ending(frequency, following.end) == following
    assert period_end_before(frequency, following.start) == period.end


@given(frequency=frequencies, n=st.integers(min_value=-200, max_value=200))
def test_period_ends_strictly_increase(frequency: Frequency, n: int) -> None:
    assert nth_period_end(frequency, n) < nth_period_end(frequency, n + 1)


@pytest.mark.parametrize("anchor_day", [28, 29, 30, 31])
def test_monthly_period_ends_are_the_anchor_day_or_the_month_end(anchor_day: int) -> None:
    monthly = Frequency(1, "month", date(2024, 1, anchor_day))

    for end in ends(monthly, 60):
        month_end = add_months(date(end.year, end.month, 1), 1) - timedelta(days=1)
        assert end.day == min(anchor_day, month_end.day)
