"""Statement periods: every N days, weeks or months counted from an anchor that is a period end.

Period ends are business dates. Monthly ends are counted from the anchor every time, never from
the previous end, so an anchor of Jan 31 gives Feb 28 (Feb 29 in a leap year) and then Mar 31
again, not Mar 28. A period runs from the day after the previous period end to its own end, both
included, and is over at midnight after its last day in the business time zone.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

Unit = Literal["day", "week", "month"]

_ONE_DAY = timedelta(days=1)
_DAYS_IN = {"day": 1, "week": 7}


@dataclass(frozen=True)
class Frequency:
    every: int
    unit: Unit
    anchor: date

    def __post_init__(self) -> None:
        assert self.every >= 1, "a settlement frequency counts at least one unit"


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        assert self.start <= self.end, f"period {self.start} .. {self.end} ends before it starts"

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def nth_period_end(frequency: Frequency, n: int) -> date:
    """The period end `n` periods after the anchor (before it when `n` is negative)."""
    if frequency.unit == "month":
        return add_months(frequency.anchor, n * frequency.every)
    return frequency.anchor + timedelta(days=n * frequency.every * _DAYS_IN[frequency.unit])


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or the month's last day when it is shorter."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end_on_or_after(frequency: Frequency, day: date) -> date:
    return nth_period_end(frequency, _first_index_on_or_after(frequency, day))


def period_end_before(frequency: Frequency, day: date) -> date:
    """The last period end strictly before `day`."""
    return nth_period_end(frequency, _first_index_on_or_after(frequency, day) - 1)


def period_ending(frequency: Frequency, end: date) -> Period:
    """The period that ends on `end`: from the day after the schedule's previous period end.

    `end` need not be a period end of the schedule (an on-demand statement): the period is then
    the start of the scheduled period it falls in, up to `end`.
    """
    return Period(period_end_before(frequency, end) + _ONE_DAY, end)


def period_containing(frequency: Frequency, day: date) -> Period:
    return period_ending(frequency, period_end_on_or_after(frequency, day))


def next_period(frequency: Frequency, after: Period) -> Period:
    """The period that follows `after`, with no gap and no overlap even when the schedule
    changed since `after` was made: it starts the day after `after` ends."""
    start = after.end + _ONE_DAY
    return Period(start, period_end_on_or_after(frequency, start))


def _first_index_on_or_after(frequency: Frequency, day: date) -> int:
    """The smallest n with nth_period_end(n) >= day."""
    offset_days = (day - frequency.anchor).days
    if frequency.unit != "month":
        step = frequency.every * _DAYS_IN[frequency.unit]
        return -(-offset_days // step)
    months = (day.year - frequency.anchor.year) * 12 + day.month - frequency.anchor.month
    n = months // frequency.every
    # The month count lands on n or next to it; the clamp to short months decides which.
    while nth_period_end(frequency, n) < day:
        n += 1
    while nth_period_end(frequency, n - 1) >= day:
        n -= 1
    return n


def business_day(moment: datetime, zone: tzinfo) -> date:
    """The date in the business time zone at `moment` (an aware datetime)."""
    assert moment.tzinfo is not None, "business days are read from aware datetimes"
    return moment.astimezone(zone).date()


def last_closed_day(now: datetime, zone: tzinfo, close_delay: timedelta) -> date:
    """The latest day whose period may be stated: it ended at local midnight at least
    `close_delay` ago, which leaves time for entries posted just before midnight to arrive."""
    return business_day(now - close_delay, zone) - _ONE_DAY
