"""The statements worker's settings: mail security is checked when the worker starts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.statements.settings import StatementsSettings


def test_password_in_clear_over_the_network_is_refused() -> None:
    with pytest.raises(ValidationError, match="use starttls or ssl"):
        StatementsSettings.model_validate(
            {"SMTP_HOST": "smtp.example.com", "SMTP_USERNAME": "tabs", "SMTP_PASSWORD": "pw"}
        )


def test_password_in_clear_to_a_relay_on_this_machine_is_allowed() -> None:
    settings = StatementsSettings.model_validate(
        {"SMTP_HOST": "127.0.0.1", "SMTP_USERNAME": "tabs", "SMTP_PASSWORD": "pw"}
    )

    assert settings.smtp_password is not None
    assert "pw" not in repr(settings)


def test_username_without_password_is_refused() -> None:
    with pytest.raises(ValidationError, match="both SMTP_USERNAME and SMTP_PASSWORD"):
        StatementsSettings.model_validate({"SMTP_USERNAME": "tabs", "SMTP_SECURITY": "ssl"})


def test_sender_must_be_an_address() -> None:
    with pytest.raises(ValidationError, match="STATEMENT_FROM"):
        StatementsSettings.model_validate({"STATEMENT_FROM": "statements"})


def test_address_lines_are_split_on_bars_or_newlines() -> None:
    settings = StatementsSettings.model_validate(
        {"STATEMENT_BUSINESS_ADDRESS": "12 Queen Street | Auckland 1010\nNew Zealand"}
    )

    assert settings.address_lines == ["12 Queen Street", "Auckland 1010", "New Zealand"]
