"""The credit read model: one view per account, for `GET /v1/accounts/{account_number}`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.messages import Outgoing
from services.credit import repository
from services.credit.domain.aging import Owed, age
from services.credit.domain.open_items import OpenItem
from services.credit.messages import iso_time
from services.credit.tables import accounts
from shared.money import format_amount
from shared.topics import ACCOUNT_EVENTS, CREDIT_DECISIONS


class AccountViews:
    name = "credit:account"

    def keys_of(self, messages: Sequence[Outgoing]) -> set[str]:
        return {m.key for m in messages if m.key and m.topic in (ACCOUNT_EVENTS, CREDIT_DECISIONS)}

    async def all_keys(self, conn: AsyncConnection) -> list[str]:
        return list((await conn.scalars(select(accounts.c.account_number))).all())

    async def build(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Any]:
        found = await repository.find_versioned(conn, keys)
        items = await repository.load_open_items(conn, found)
        return {
            number: {
                # The read model keeps a view only over an older one (read_model.py).
                "version": version,
                "account_number": number,
                "name": account.name,
                "status": account.status,
                "currency": account.currency,
                "balance": format_amount(account.balance),
                "credit_limit": format_amount(account.credit_limit),
                "available_credit": format_amount(account.available_credit),
                "restrict_credit": account.restrict_credit,
                "over_limit": account.over_limit,
                "credit_period_days": account.credit_period_days,
                "overdue_hold_days": account.overdue_hold_days,
                "open_items": [
                    _item(i)
                    for i in sorted(items.get(number, []), key=lambda i: (i.due_date, i.posted_at))
                ],
            }
            for number, (account, version) in found.items()
        }


def _item(item: OpenItem) -> dict[str, Any]:
    return {
        "entry_id": item.item_id,
        "reference": item.reference,
        "amount": format_amount(item.amount),
        "open_amount": format_amount(item.open_amount),
        "due_date": item.due_date.isoformat(),
        "posted_at": iso_time(item.posted_at),
    }


def with_aging(view: dict[str, Any], today: date) -> dict[str, Any]:
    """Aging depends on today's date, so it is worked out when the view is read."""
    owed = [
        Owed(Decimal(i["open_amount"]), date.fromisoformat(i["due_date"]))
        for i in view["open_items"]
    ]
    buckets = age(owed, today)
    return {
        **view,
        "aging": {
            "current": format_amount(buckets.current),
            "1_30": format_amount(buckets.d1_30),
            "31_60": format_amount(buckets.d31_60),
            "61_90": format_amount(buckets.d61_90),
            "over_90": format_amount(buckets.over_90),
        },
        "as_of": today.isoformat(),
    }
