"""The statements worker's settings: the runtime's, plus its own database, SMTP, the business
on the statement, and the schedule's timing."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from services.common.settings import RuntimeSettings
from shared.base import Email

SmtpSecurity = Literal["none", "starttls", "ssl"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class StatementsSettings(RuntimeSettings):
    database_url: str = Field(
        "sqlite:///tabs-statements.db", alias="STATEMENTS_DATABASE_URL", repr=False
    )

    # Mail. `starttls` and `ssl` verify the server's certificate against the system's trust
    # store, or SMTP_CA_FILE when set (a private relay's own CA).
    smtp_host: str = Field("127.0.0.1", alias="SMTP_HOST")
    smtp_port: int = Field(25, alias="SMTP_PORT", ge=1, le=65535)
    smtp_security: SmtpSecurity = Field("none", alias="SMTP_SECURITY")
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD", repr=False)
    smtp_timeout_s: float = Field(30.0, alias="SMTP_TIMEOUT_S", gt=0, le=600)
    smtp_ca_file: Path | None = Field(None, alias="SMTP_CA_FILE")
    statement_from: Email = Field("statements@tabs.localhost", alias="STATEMENT_FROM")

    # The business the statement comes from. Address lines are separated by "|" or newlines.
    business_name: str = Field("Tabs", alias="STATEMENT_BUSINESS_NAME", min_length=1)
    business_address: str = Field("", alias="STATEMENT_BUSINESS_ADDRESS")
    business_contact: str = Field("", alias="STATEMENT_BUSINESS_CONTACT")
    logo_path: Path | None = Field(None, alias="STATEMENT_LOGO_PATH")
    payment_instructions: str = Field(
        "Please pay by bank transfer, quoting your account number as the reference.",
        alias="STATEMENT_PAYMENT_INSTRUCTIONS",
    )
    # Templates in this folder replace the built-in ones of the same name (subject.txt,
    # email.txt, email.html).
    template_dir: Path | None = Field(None, alias="STATEMENT_TEMPLATE_DIR")
    # A TrueType font (and its bold) for the PDF. Without one the PDF uses Helvetica, which has
    # only Latin-1: other letters are written without their accents.
    font_path: Path | None = Field(None, alias="STATEMENT_FONT_PATH")
    font_bold_path: Path | None = Field(None, alias="STATEMENT_FONT_BOLD_PATH")

    # The schedule: how often to look for periods that ended, how long after midnight a period
    # is stated (entries posted just before midnight must arrive first), and how far back a
    # restarted or new worker catches up on statements it never made.
    schedule_interval_s: float = Field(60.0, alias="STATEMENT_SCHEDULE_INTERVAL_S", gt=0)
    close_delay_s: float = Field(900.0, alias="STATEMENT_CLOSE_DELAY_S", ge=0)
    catch_up_days: int = Field(45, alias="STATEMENT_CATCH_UP_DAYS", ge=0, le=3650)
    # Accounts read per batch; each is then stated in a transaction of its own.
    accounts_per_pass_max: int = Field(100, alias="STATEMENT_ACCOUNTS_PER_PASS_MAX", ge=1)

    # Delivery: passes of at most SENDS_PER_PASS_MAX statements, SENDS_CONCURRENT_MAX at once;
    # a full pass is followed by the next at once, any other waits DELIVERY_INTERVAL_S. Retries.
    delivery_interval_s: float = Field(5.0, alias="STATEMENT_DELIVERY_INTERVAL_S", gt=0)
    sends_per_pass_max: int = Field(50, alias="STATEMENT_SENDS_PER_PASS_MAX", ge=1)
    sends_concurrent_max: int = Field(4, alias="STATEMENT_SENDS_CONCURRENT_MAX", ge=1, le=64)
    # 8 attempts from 1 minute apart, doubling to an hour: a mail relay may be down for about
    # two hours before a statement is reported failed.
    delivery_attempts_max: int = Field(8, alias="STATEMENT_DELIVERY_ATTEMPTS_MAX", ge=1, le=100)
    retry_backoff_s: float = Field(60.0, alias="STATEMENT_RETRY_BACKOFF_S", gt=0)
    retry_backoff_cap_s: float = Field(3600.0, alias="STATEMENT_RETRY_BACKOFF_MAX_S", gt=0)

    @model_validator(mode="after")
    def _credentials_protected(self) -> Self:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both SMTP_USERNAME and SMTP_PASSWORD, or neither")
        if (
            self.smtp_username is not None
            and self.smtp_security == "none"
            and not _is_loopback(self.smtp_host)
        ):
            # A password in clear text over the network: refuse at start, not at month end.
            raise ValueError(
                "SMTP_USERNAME over SMTP_SECURITY=none is allowed only to a loopback host; "
                "use starttls or ssl"
            )
        return self

    @property
    def address_lines(self) -> list[str]:
        lines = self.business_address.replace("|", "\n").splitlines()
        return [line.strip() for line in lines if line.strip()]

    @property
    def send_timeout_s(self) -> float:
        """The bound on one whole SMTP conversation (each step has SMTP_TIMEOUT_S)."""
        return self.smtp_timeout_s * _SMTP_STEPS_MAX

    @property
    def sending_lease_s(self) -> float:
        """How long a statement may stay "sending" before it is taken for a stopped worker."""
        return self.send_timeout_s + _LEASE_MARGIN_S


# connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, the data and its answer.
_SMTP_STEPS_MAX = 10
_LEASE_MARGIN_S = 60.0


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
