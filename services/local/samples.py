"""The ready-to-paste commands `tabs up` prints."""

from __future__ import annotations

import json
import shlex
import uuid
from datetime import datetime, timedelta, timezone

_NZDT = timezone(timedelta(hours=13))


def sample_commands(bootstrap: str, tabs: str = "tabs") -> list[str]:
    now = datetime.now(_NZDT).replace(microsecond=0).isoformat()
    suffix = uuid.uuid4().hex[:6]
    open_account = {
        "command_id": f"c-{suffix}",
        "issued_at": now,
        "issued_by": "back-office",
        "type": "open_account",
        "account_number": "ACC-0001",
        "name": "Hammer & Sons Ltd",
        "currency": "NZD",
        "credit_limit": "1000.00",
        "restrict_credit": True,
        "credit_period_days": 30,
        "settlement_frequency": {"every": 1, "unit": "month", "anchor": "2026-12-01"},
        "statement_email": "accounts@hammer.example",
        "customer_id": "C-77",
    }
    sale = {
        "event_id": f"e-{suffix}",
        "occurred_at": now,
        "store_id": "store-1",
        "terminal_id": "till-2",
        "sale_id": f"S-{suffix}",
        "stage": "authorize",
        "currency": "NZD",
        "total": "125.50",
        "lines": [
            {
                "sku": "HAMMER-1",
                "description": "Claw hammer",
                "quantity": "1",
                "unit_price": "125.50",
                "amount": "125.50",
                "category": "tools",
            }
        ],
        "tenders": [{"type": "account", "amount": "125.50"}],
        "account_number": "ACC-0001",
        "customer_id": "C-77",
        "override": None,
    }
    return [
        f"{tabs} publish --bootstrap {bootstrap} accounts.commands.v1 "
        f"{shlex.quote(json.dumps(open_account, separators=(',', ':')))}",
        f"{tabs} publish --bootstrap {bootstrap} pos.sales.v1 "
        f"{shlex.quote(json.dumps(sale, separators=(',', ':')))}",
    ]
