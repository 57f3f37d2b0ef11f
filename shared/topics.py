"""The contract's topics: names, keys and the message each carries."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from shared.account_events import AccountEvent, account_event_key
from shared.commands import AccountCommand, command_key
from shared.customers import CustomerUpsert, customer_key
from shared.dead_letter import DeadLetter, dead_letter_key
from shared.decisions import CreditDecision, decision_key
from shared.loyalty import LoyaltyEvent, loyalty_key
from shared.sales import SaleEvent, sale_key
from shared.statements import StatementRequest, StatementSent, statement_key

__all__ = [
    "ACCOUNT_COMMANDS",
    "ACCOUNT_EVENTS",
    "ALL_TOPICS",
    "CREDIT_DECISIONS",
    "CRM_CUSTOMERS",
    "CRM_LOYALTY",
    "DEAD_LETTER_SUFFIX",
    "POS_SALES",
    "STATEMENTS_SENT",
    "STATEMENT_REQUESTS",
    "TOPICS",
    "TopicSpec",
    "dead_letter_spec",
    "dead_letter_topic",
]

POS_SALES = "pos.sales.v1"
CREDIT_DECISIONS = "credit.decisions.v1"
ACCOUNT_COMMANDS = "accounts.commands.v1"
ACCOUNT_EVENTS = "accounts.events.v1"
CRM_CUSTOMERS = "crm.customers.v1"
CRM_LOYALTY = "crm.loyalty.v1"
STATEMENT_REQUESTS = "statements.requests.v1"
STATEMENTS_SENT = "statements.sent.v1"

ALL_TOPICS: tuple[str, ...] = (
    POS_SALES,
    CREDIT_DECISIONS,
    ACCOUNT_COMMANDS,
    ACCOUNT_EVENTS,
    CRM_CUSTOMERS,
    CRM_LOYALTY,
    STATEMENT_REQUESTS,
    STATEMENTS_SENT,
)

DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DEAD_LETTER_SUFFIX}"


@dataclass(frozen=True)
class TopicSpec:
    """One topic of the contract.

    `message` is the model (or, for commands and account events, the discriminated union) a
    consumer validates against; `adapter` validates raw JSON into it and gives its JSON schema;
    `key_of` computes the Kafka key of a parsed message, `key` describes it for people.
    """

    name: str
    key: str
    message: Any
    adapter: TypeAdapter[Any]
    key_of: Callable[[Any], str | None]
    producers: str
    consumers: str


def _spec(
    name: str,
    key: str,
    message: Any,
    key_of: Callable[[Any], str | None],
    producers: str,
    consumers: str,
) -> TopicSpec:
    return TopicSpec(name, key, message, TypeAdapter(message), key_of, producers, consumers)


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            POS_SALES,
            "account_number, else customer_id, else sale_id",
            SaleEvent,
            sale_key,
            "POS",
            "credit, crm",
        ),
        _spec(CREDIT_DECISIONS, "account_number", CreditDecision, decision_key, "credit", "POS"),
        _spec(
            ACCOUNT_COMMANDS, "account_number", AccountCommand, command_key, "back office", "credit"
        ),
        _spec(
            ACCOUNT_EVENTS,
            "account_number",
            AccountEvent,
            account_event_key,
            "credit",
            "statements, crm, anyone",
        ),
        _spec(
            CRM_CUSTOMERS,
            "customer_id",
            CustomerUpsert,
            customer_key,
            "POS, web sign-up",
            "crm",
        ),
        _spec(CRM_LOYALTY, "customer_id", LoyaltyEvent, loyalty_key, "crm", "POS, anyone"),
        _spec(
            STATEMENT_REQUESTS,
            "account_number",
            StatementRequest,
            statement_key,
            "back office",
            "statements",
        ),
        _spec(
            STATEMENTS_SENT, "account_number", StatementSent, statement_key, "statements", "anyone"
        ),
    )
}


def dead_letter_spec(topic: str) -> TopicSpec:
    """The dead-letter topic of `topic`: same key as the original record, any consumer group."""
    return _spec(
        dead_letter_topic(topic),
        "the original record's key",
        DeadLetter,
        dead_letter_key,
        "any consumer of " + topic,
        "operators",
    )
