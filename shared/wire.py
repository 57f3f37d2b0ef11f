"""Bytes to messages and back.

Parsing raises `pydantic.ValidationError` for everything a producer can get wrong, undecodable
JSON included, so a consumer has one exception to turn into a dead letter.
"""

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.account_events import AccountEvent, account_event_adapter
from shared.base import ID_CHARS_MAX, Id
from shared.commands import AccountCommand, account_command_adapter
from shared.customers import CustomerUpsert
from shared.dead_letter import DeadLetter
from shared.decisions import CreditDecision
from shared.loyalty import LoyaltyEvent
from shared.sales import SaleEvent
from shared.statements import StatementRequest, StatementSent

__all__ = [
    "best_effort_fields",
    "dumps",
    "load",
    "load_account_event",
    "load_command",
    "load_credit_decision",
    "load_customer",
    "load_dead_letter",
    "load_loyalty",
    "load_sale",
    "load_statement_request",
    "load_statement_sent",
    "load_with",
]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_UTF8_BOM = b"\xef\xbb\xbf"


def dumps(message: BaseModel) -> bytes:
    """UTF-8 JSON with the contract's field names; null fields are written, not left out."""
    return message.model_dump_json(by_alias=True, exclude_none=False).encode("utf-8")


def load(model: type[M], raw: bytes | None) -> M:
    """Parse one record's value; a tombstone (None) is invalid like any other non-object."""
    return model.model_validate_json(_payload(raw))


def load_with(adapter: TypeAdapter[T], raw: bytes | None) -> T:
    return adapter.validate_json(_payload(raw))


def _payload(raw: bytes | None) -> bytes:
    # Some Windows tools prefix UTF-8 with a byte-order mark; it carries no meaning here.
    value = raw or b""
    return value.removeprefix(_UTF8_BOM)


def load_sale(raw: bytes | None) -> SaleEvent:
    return load(SaleEvent, raw)


def load_credit_decision(raw: bytes | None) -> CreditDecision:
    return load(CreditDecision, raw)


def load_command(raw: bytes | None) -> AccountCommand:
    return load_with(account_command_adapter, raw)


def load_account_event(raw: bytes | None) -> AccountEvent:
    return load_with(account_event_adapter, raw)


def load_customer(raw: bytes | None) -> CustomerUpsert:
    return load(CustomerUpsert, raw)


def load_loyalty(raw: bytes | None) -> LoyaltyEvent:
    return load(LoyaltyEvent, raw)


def load_statement_request(raw: bytes | None) -> StatementRequest:
    return load(StatementRequest, raw)


def load_statement_sent(raw: bytes | None) -> StatementSent:
    return load(StatementSent, raw)


def load_dead_letter(raw: bytes | None) -> DeadLetter:
    return load(DeadLetter, raw)


def best_effort_fields(raw: bytes | None, *names: str) -> dict[str, str]:
    """The named top-level string fields of a payload that may be invalid; never raises.

    For addressing a reply to a message that failed validation. Undecodable bytes are replaced,
    so one bad byte in a description does not hide the `event_id`. Only values that are valid
    ids (`shared.base.Id`) are returned, so a reply built from them cannot itself fail
    validation, and never echoes a megabyte of garbage.
    """
    try:
        document: Any = json.loads(_payload(raw).decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return {}
    if not isinstance(document, Mapping):
        return {}
    return {name: value for name in names if (value := _as_id(document.get(name))) is not None}


_ID: TypeAdapter[str] = TypeAdapter(Id)


def _as_id(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > ID_CHARS_MAX:
        return None
    try:
        return _ID.validate_python(value)
    except ValidationError:
        return None
