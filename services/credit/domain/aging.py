"""Aging: what is owed, by how many days it is past due."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from services.credit.domain.open_items import ZERO
from shared.statements import aging_bucket


@dataclass(frozen=True)
class Owed:
    """What aging needs of an open item."""

    open_amount: Decimal
    due_date: date


class _Dated(Protocol):
    @property
    def open_amount(self) -> Decimal: ...

    @property
    def due_date(self) -> date: ...


@dataclass(frozen=True)
class AgingBuckets:
    current: Decimal = ZERO
    d1_30: Decimal = ZERO
    d31_60: Decimal = ZERO
    d61_90: Decimal = ZERO
    over_90: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.current + self.d1_30 + self.d31_60 + self.d61_90 + self.over_90


def age(items: Iterable[_Dated], today: date) -> AgingBuckets:
    """Buckets the open amounts; credits not yet used count as current, so the buckets add up
    to the balance."""
    buckets = {"current": ZERO, "d1_30": ZERO, "d31_60": ZERO, "d61_90": ZERO, "over_90": ZERO}
    for item in items:
        if item.open_amount == 0:
            continue
        late = (today - item.due_date).days if item.open_amount > 0 else 0
        buckets[aging_bucket(late)] += item.open_amount
    return AgingBuckets(**buckets)


def overdue_beyond(items: Iterable[_Dated], today: date, hold_days: int | None) -> bool:
    """True when any debit is more than `hold_days` past its due date."""
    if hold_days is None:
        return False
    return any(i.open_amount > 0 and (today - i.due_date).days > hold_days for i in items)
