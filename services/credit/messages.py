"""The credit service's outgoing messages, built from domain values."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from services.common.ids import derived_id
from services.common.messages import Outgoing
from services.credit.domain.accounts import Account, OverrideRules
from services.credit.domain.decisions import Approved, Declined
from services.credit.domain.ledger import Entry
from shared.account_events import (
    AccountChanged,
    AccountOpened,
    CommandRejected,
)
from shared.commands import SettlementFrequency
from shared.decisions import CreditDecision
from shared.money import format_amount
from shared.sales import SaleEvent
from shared.terms import CategoryFunding
from shared.terms import OverrideRules as OverrideRulesTerms
from shared.topics import ACCOUNT_EVENTS, CREDIT_DECISIONS


def _money(amount: Decimal | None) -> str | None:
    return format_amount(amount) if amount is not None else None


def iso_time(moment: datetime) -> str:
    """A timestamp as pydantic writes it: ISO 8601, "Z" for UTC."""
    # With its offset in the key: an instant in two offsets is equal, but written differently.
    return _iso_time(moment, moment.utcoffset())


@lru_cache(maxsize=256)
def _iso_time(moment: datetime, _offset: timedelta | None) -> str:
    # A batch writes the same few instants (its clock reading) into every reply.
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@lru_cache(maxsize=256)
def _iso_time_in(moment: datetime, zone: tzinfo | None) -> str:
    return iso_time(moment.astimezone(zone))


def decision_reply(
    sale: SaleEvent, outcome: Approved | Declined, account: Account | None, now: datetime
) -> Outgoing:
    """The till's answer, a `CreditDecision`, written straight to JSON: it is the hot path, and
    every value was computed by the worker from a validated sale and a stored account (a
    property test checks the bytes against the validated model's)."""
    approved = isinstance(outcome, Approved)
    decision = {
        "event_id": derived_id("d", sale.event_id),
        "request_event_id": sale.event_id,
        "sale_id": sale.sale_id,
        "store_id": sale.store_id,
        "terminal_id": sale.terminal_id,
        "account_number": sale.account_number,
        "decision": "approved" if approved else "declined",
        "reason": None if isinstance(outcome, Approved) else outcome.reason,
        "amount": format_amount(
            outcome.amount if isinstance(outcome, Approved) else sale.account_amount()
        ),
        "currency": sale.currency,
        "balance": _money(account.balance) if account else None,
        "credit_limit": _money(account.credit_limit) if account else None,
        "available_credit": _money(account.available_credit) if account else None,
        "over_limit": account.over_limit if account else False,
        # The till reads the time in its own offset.
        "decided_at": _iso_time_in(now, sale.occurred_at.tzinfo),
    }
    return Outgoing(CREDIT_DECISIONS, sale.account_number, orjson.dumps(decision))


def invalid_request_reply(
    event_id: str, fields: dict[str, str], key: str | None, now: datetime
) -> Outgoing:
    decision = CreditDecision(
        event_id=derived_id("d", event_id),
        request_event_id=event_id,
        sale_id=fields.get("sale_id"),
        store_id=fields.get("store_id"),
        terminal_id=fields.get("terminal_id"),
        account_number=fields.get("account_number"),
        decision="declined",
        reason="invalid_request",
        amount=None,
        currency=None,
        balance=None,
        credit_limit=None,
        available_credit=None,
        over_limit=False,
        decided_at=now,
    )
    return Outgoing.of(CREDIT_DECISIONS, key, decision)


def account_opened(command_id: str, account: Account, now: datetime) -> Outgoing:
    event = AccountOpened(
        event_id=derived_id("ev", command_id, "account_opened"),
        occurred_at=now,
        command_id=command_id,
        account_number=account.number,
        name=account.name,
        currency=account.currency,
        status=account.status,
        credit_limit=account.credit_limit,
        restrict_credit=account.restrict_credit,
        credit_period_days=account.credit_period_days,
        settlement_frequency=SettlementFrequency(
            every=account.settlement.every,
            unit=account.settlement.unit,
            anchor=account.settlement.anchor,
        ),
        statement_email=account.statement_email,
        customer_id=account.customer_id,
        credit_rating=account.credit_rating,
        overdue_hold_days=account.overdue_hold_days,
        override_rules=_rules(account.override_rules),
        opening_balance=account.balance,
    )
    return Outgoing.of(ACCOUNT_EVENTS, account.number, event)


def account_changed(command_id: str, account: Account, now: datetime) -> Outgoing:
    event = AccountChanged(
        event_id=derived_id("ev", command_id, "account_changed"),
        occurred_at=now,
        command_id=command_id,
        account_number=account.number,
        status=account.status,
        credit_limit=account.credit_limit,
        restrict_credit=account.restrict_credit,
        credit_period_days=account.credit_period_days,
        credit_rating=account.credit_rating,
        overdue_hold_days=account.overdue_hold_days,
        override_rules=_rules(account.override_rules),
    )
    return Outgoing.of(ACCOUNT_EVENTS, account.number, event)


def _rules(rules: OverrideRules | None) -> OverrideRulesTerms | None:
    if rules is None:
        return None

    def names(values: frozenset[str] | None) -> list[str] | None:
        return sorted(values) if values is not None else None

    return OverrideRulesTerms(
        max_over_limit=rules.max_over_limit,
        stores=names(rules.stores),
        terminals=names(rules.terminals),
        roles=names(rules.roles),
    )


def entry_posted(
    entry: Entry, account: Account, now: datetime, command_id: str | None = None
) -> Outgoing:
    """An `EntryPosted`, written straight to JSON like decision_reply (and checked the same
    way)."""
    event = {
        "event_id": derived_id("ev", entry.entry_id, "entry_posted"),
        "occurred_at": iso_time(now),
        "command_id": command_id,
        "type": "entry_posted",
        "account_number": entry.account_number,
        "entry": {
            "entry_id": entry.entry_id,
            "kind": entry.kind,
            "amount": format_amount(entry.amount),
            "currency": account.currency,
            "balance_after": format_amount(entry.balance_after),
            "reference": entry.reference,
            "due_date": entry.due_date.isoformat() if entry.due_date else None,
            "posted_at": iso_time(entry.posted_at),
            "forced": entry.forced,
            "override": {"code": entry.override[0], "authorised_by": entry.override[1]}
            if entry.override
            else None,
            "member_account_number": entry.member_account_number,
        },
    }
    return Outgoing(ACCOUNT_EVENTS, entry.account_number, orjson.dumps(event))


def command_rejected(
    command_id: str, account_number: str | None, reason: str, detail: str, now: datetime
) -> Outgoing:
    event = CommandRejected(
        event_id=derived_id("ev", command_id, "command_rejected"),
        occurred_at=now,
        account_number=account_number,
        command_id=command_id,
        reason=reason,
        detail=detail,
    )
    return Outgoing.of(ACCOUNT_EVENTS, account_number, event)


def membership_changed(command_id: str, member: Account, now: datetime) -> Outgoing:
    """Membership is a change to the member: its parent and funding (both null when removed)."""
    funding: Any = None
    if member.funding == "full":
        funding = "full"
    elif member.funding is not None:
        funding = CategoryFunding(categories=sorted(member.funding))
    event = AccountChanged(
        event_id=derived_id("ev", command_id, "account_changed"),
        occurred_at=now,
        command_id=command_id,
        account_number=member.number,
        parent_account_number=member.parent_account_number,
        funding=funding,
    )
    return Outgoing.of(ACCOUNT_EVENTS, member.number, event)
