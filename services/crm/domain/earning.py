"""How many points a sale earns, and how many points a `points` tender takes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from services.crm.domain.program import BirthdayMonthBonus, LoyaltyProgram, PeriodBonus
from shared.sales import SaleLine, Tender

ONE = Decimal("1")
_EXACT_DIGITS = 60


def points_earned(
    program: LoyaltyProgram,
    tenders: Sequence[Tender],
    lines: Sequence[SaleLine],
    sale_day: date,
    birthday: date | None,
) -> int:
    """Points for the money paid with earning tenders, weighted by the lines' categories and
    the best bonus that applies; rounded down once, at the end (the contract's rule)."""
    eligible = sum(
        (t.amount for t in tenders if t.type not in program.excluded_tenders), Decimal("0")
    )
    if eligible <= 0:
        return 0
    with localcontext() as context:
        # Wide enough that the one division below is exact whenever the result is whole, and
        # nothing is rounded before the one rounding.
        context.prec = _EXACT_DIGITS
        weighted, weighed = _category_weights(program, lines)
        bonus = _bonus_factor(program, sale_day, birthday)
        points = eligible * program.points_per_unit * bonus * weighted / weighed
        return int(points.to_integral_value(ROUND_FLOOR))


def points_to_redeem(program: LoyaltyProgram, amount: Decimal) -> int:
    """The points a `points` tender of `amount` takes: rounded up, so that points never pay for
    more than they are worth."""
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        return int((amount / program.point_value).to_integral_value(ROUND_CEILING))


def points_refunded(program: LoyaltyProgram, amount: Decimal) -> int:
    """The points a refund paid as a `points` tender gives back: rounded down, so that a refund
    never gives back more than the money it stands for."""
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        return int((amount / program.point_value).to_integral_value(ROUND_FLOOR))


def _category_weights(
    program: LoyaltyProgram, lines: Sequence[SaleLine]
) -> tuple[Decimal, Decimal]:
    """The lines' amounts weighted by their category multipliers, and unweighted.

    Tenders pay for the docket as a whole, so each line's multiplier counts in proportion to its
    amount. Without positive lines to weigh (no lines, or discounts as large as the goods) the
    sale earns at the plain rate.
    """
    weighed = sum((line.amount for line in lines), Decimal("0"))
    if not program.category_multipliers or weighed <= 0:
        return ONE, ONE
    weighted = sum(
        (
            line.amount * program.category_multipliers.get(line.category or "", ONE)
            for line in lines
        ),
        Decimal("0"),
    )
    return max(weighted, Decimal("0")), weighed


def _bonus_factor(program: LoyaltyProgram, sale_day: date, birthday: date | None) -> Decimal:
    # Bonuses do not stack: the best one that applies counts, so adding a promotion never
    # multiplies another one.
    best = ONE
    for bonus in program.bonuses:
        if isinstance(bonus, BirthdayMonthBonus):
            applies = birthday is not None and birthday.month == sale_day.month
        elif isinstance(bonus, PeriodBonus):
            applies = bonus.starts <= sale_day <= bonus.ends
        if applies and bonus.multiplier > best:
            best = bonus.multiplier
    return best
