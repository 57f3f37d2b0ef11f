import json

import pytest

from shared.topics import (
    ACCOUNT_COMMANDS,
    ACCOUNT_EVENTS,
    ALL_TOPICS,
    CREDIT_DECISIONS,
    CRM_CUSTOMERS,
    CRM_LOYALTY,
    POS_SALES,
    STATEMENT_REQUESTS,
    STATEMENTS_SENT,
    TOPICS,
    dead_letter_spec,
    dead_letter_topic,
)


def test_topic_names_are_the_contracts() -> None:
    assert ALL_TOPICS == (
        "pos.sales.v1",
        "credit.decisions.v1",
        "accounts.commands.v1",
        "accounts.events.v1",
        "crm.customers.v1",
        "crm.loyalty.v1",
        "statements.requests.v1",
        "statements.sent.v1",
    )
    assert ALL_TOPICS[:4] == (POS_SALES, CREDIT_DECISIONS, ACCOUNT_COMMANDS, ACCOUNT_EVENTS)
    assert ALL_TOPICS[4:] == (CRM_CUSTOMERS, CRM_LOYALTY, STATEMENT_REQUESTS, STATEMENTS_SENT)


def test_every_topic_has_a_spec() -> None:
    assert tuple(TOPICS) == ALL_TOPICS
    assert all(spec.name == name for name, spec in TOPICS.items())


def test_dead_letter_topic_appends_dlq() -> None:
    assert dead_letter_topic(POS_SALES) == "pos.sales.v1.dlq"
    assert dead_letter_spec(POS_SALES).name == "pos.sales.v1.dlq"


@pytest.mark.parametrize("name", ALL_TOPICS)
def test_every_topic_publishes_a_json_schema(name: str) -> None:
    schema = TOPICS[name].adapter.json_schema()
    assert json.dumps(schema)


def test_money_is_a_string_in_the_schema() -> None:
    schema = TOPICS[POS_SALES].adapter.json_schema()
    assert schema["properties"]["total"]["type"] == "string"
    assert schema["properties"]["occurred_at"]["format"] == "date-time"


def test_sales_are_keyed_by_account_then_customer_then_sale() -> None:
    raw = (
        b'{"event_id": "e", "occurred_at": "2026-11-22T10:15:00+13:00", "store_id": "s",'
        b' "terminal_id": "t", "sale_id": "S-1", "stage": "completed", "currency": "NZD",'
        b' "total": "1.00", "tenders": [{"type": "cash", "amount": "1.00"}]}'
    )
    spec = TOPICS[POS_SALES]
    assert spec.key_of(spec.adapter.validate_json(raw)) == "S-1"


def test_commands_are_keyed_by_account_number() -> None:
    raw = (
        b'{"type": "approve_account", "command_id": "c", "issued_at": "2026-11-22T10:15:00Z",'
        b' "issued_by": "jo", "account_number": "ACC-9"}'
    )
    spec = TOPICS[ACCOUNT_COMMANDS]
    assert spec.key_of(spec.adapter.validate_json(raw)) == "ACC-9"


@pytest.mark.parametrize("name", ALL_TOPICS)
def test_output_schema_describes_fields_not_a_bare_object(name: str) -> None:
    schema = TOPICS[name].adapter.json_schema(mode="serialization")
    assert "properties" in schema or "oneOf" in schema  # a model, or a union of models
    assert all("properties" in model for model in schema.get("$defs", {}).values())
