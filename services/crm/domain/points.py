"""A customer's points, kept in lots: one lot per earning sale, each with its expiry.

Redemption and expiry take points oldest lot first (the lot that expires first), so a customer
loses as few points to expiry as possible. The balance is the sum of the lots' remainders less
a debt: taking back points already spent (a void after a redemption) cannot empty a lot below
zero, so the shortfall is owed and paid from the next points earned. Debt and unspent lots never
coexist: a take-back empties every lot before it adds to the debt, and new points pay the debt
before they fill a lot.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime


class InsufficientPoints(Exception):
    """A redemption asked for more points than the customer has."""

    def __init__(self, wanted: int, balance: int) -> None:
        super().__init__(f"redeeming {wanted} points needs a balance of {wanted}, not {balance}")
        self.wanted = wanted
        self.balance = balance


@dataclass(frozen=True)
class Lot:
    lot_id: str
    earned_at: datetime
    expires_at: datetime
    points: int
    remaining: int

    def __post_init__(self) -> None:
        assert 0 <= self.remaining <= self.points, self


@dataclass(frozen=True)
class Take:
    """Points a redemption took from one lot, and how many of them were given back since."""

    lot_id: str
    points: int
    restored: int = 0


@dataclass(frozen=True)
class PointsAccount:
    lots: dict[str, Lot] = field(default_factory=dict)
    debt: int = 0

    def __post_init__(self) -> None:
        assert self.debt >= 0, self
        assert self.debt == 0 or all(lot.remaining == 0 for lot in self.lots.values()), self

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots.values()) - self.debt

    def oldest_first(self) -> list[Lot]:
        return sorted(
            self.lots.values(), key=lambda lot: (lot.expires_at, lot.earned_at, lot.lot_id)
        )


def earn(
    account: PointsAccount, lot_id: str, points: int, earned_at: datetime, expires_at: datetime
) -> PointsAccount:
    """A new lot; the debt is paid from it first."""
    assert points > 0 and lot_id not in account.lots
    paid = min(account.debt, points)
    lot = Lot(lot_id, earned_at, expires_at, points, points - paid)
    return PointsAccount({**account.lots, lot_id: lot}, account.debt - paid)


def redeem(account: PointsAccount, points: int) -> tuple[PointsAccount, list[Take]]:
    """Takes `points` oldest lot first; refuses, changing nothing, when the balance is short."""
    assert points > 0
    if points > account.balance:
        raise InsufficientPoints(points, account.balance)
    lots = dict(account.lots)
    takes: list[Take] = []
    wanted = points
    for lot in account.oldest_first():
        if wanted == 0:
            break
        taken = min(lot.remaining, wanted)
        if taken:
            lots[lot.lot_id] = replace(lot, remaining=lot.remaining - taken)
            takes.append(Take(lot.lot_id, taken))
            wanted -= taken
    return PointsAccount(lots, account.debt), takes


def take_back(account: PointsAccount, points: int, own_lot: str | None) -> PointsAccount:
    """Reverses earned points: from the sale's own lot first, then oldest first, and what the
    lots cannot cover becomes debt."""
    assert points > 0
    lots = dict(account.lots)
    order = [lots[own_lot]] if own_lot in lots else []
    order += [lot for lot in account.oldest_first() if lot.lot_id != own_lot]
    wanted = points
    for lot in order:
        taken = min(lot.remaining, wanted)
        if taken:
            lots[lot.lot_id] = replace(lot, remaining=lot.remaining - taken)
            wanted -= taken
    return PointsAccount(lots, account.debt + wanted)


def give_back(
    account: PointsAccount, takes: list[Take], points: int
) -> tuple[PointsAccount, list[Take]]:
    """Reverses a redemption: the debt is paid first, the rest goes back into the lots it came
    from, latest expiry first (an expired lot gets its points back and the next sweep expires
    them, as it would have)."""
    assert points > 0
    paid = min(account.debt, points)
    wanted = points - paid
    lots = dict(account.lots)
    by_id = {take.lot_id: take for take in takes}
    order = sorted(
        takes, key=lambda t: (lots[t.lot_id].expires_at, lots[t.lot_id].earned_at), reverse=True
    )
    for take in order:
        restored = min(take.points - take.restored, wanted)
        if restored:
            lot = lots[take.lot_id]
            lots[take.lot_id] = replace(lot, remaining=lot.remaining + restored)
            by_id[take.lot_id] = replace(take, restored=take.restored + restored)
            wanted -= restored
    assert wanted == 0, "a redemption gives back at most what it took"
    return PointsAccount(lots, account.debt - paid), [by_id[t.lot_id] for t in takes]


def expire(account: PointsAccount, now: datetime) -> tuple[PointsAccount, int]:
    """Empties every lot whose expiry has come; returns how many points that took."""
    lots = dict(account.lots)
    expired = 0
    for lot in account.lots.values():
        if lot.remaining and lot.expires_at <= now:
            expired += lot.remaining
            lots[lot.lot_id] = replace(lot, remaining=0)
    return PointsAccount(lots, account.debt), expired
