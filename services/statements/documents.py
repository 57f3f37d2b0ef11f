"""The statement as people read it: the email's subject, text and HTML from jinja2 templates
(an operator's STATEMENT_TEMPLATE_DIR first, then the built-in ones), and the PDF."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.statements import formatting
from services.statements.business import Business
from services.statements.domain.ledger import Entry
from services.statements.domain.schedule import Period
from services.statements.domain.statement import StatedAccount, Statement, state_account
from services.statements.pdf import Fonts, statement_pdf

_BUILT_IN = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Document:
    subject: str
    text: str
    html: str
    pdf: bytes


class StatementRenderer:
    def __init__(
        self, business: Business, template_dir: Path | None = None, fonts: Fonts | None = None
    ) -> None:
        self._business = business
        self._fonts = fonts
        folders = [str(template_dir)] if template_dir is not None else []
        self._templates = Environment(
            loader=FileSystemLoader([*folders, str(_BUILT_IN)]),
            # Names and references come from tills and back offices: escape them in HTML.
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            # A misspelt name in an operator's template fails loudly, not as a blank.
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    @property
    def business(self) -> Business:
        return self._business

    def check(self) -> None:
        """Renders a sample statement, so that a broken operator template, font or logo stops
        the worker at start rather than a statement at month end."""
        self.render(sample_statement(), "SAMPLE/2026-11-30", "accounts@example.com")

    def render(self, statement: Statement, statement_id: str, recipient: str) -> Document:
        context = template_context(statement, statement_id, self._business, recipient)
        subject = " ".join(self._templates.get_template("subject.txt").render(context).split())
        context["subject"] = subject
        return Document(
            subject=subject,
            text=self._templates.get_template("email.txt").render(context),
            html=self._templates.get_template("email.html").render(context),
            pdf=statement_pdf(statement, statement_id, self._business, recipient, self._fonts),
        )


def sample_statement() -> Statement:
    account = StatedAccount("SAMPLE", "Sample Customer Ltd", "NZD", 20)
    posted = datetime(2026, 11, 2, tzinfo=UTC)
    entries = [
        Entry("sample-1", "charge", Decimal("125.50"), posted, "S-1", date(2026, 11, 22)),
        Entry("sample-2", "payment", Decimal("-25.50"), posted + timedelta(days=9), "PAY-1"),
    ]
    period = Period(date(2026, 11, 1), date(2026, 11, 30))
    return state_account(account, entries, period, UTC)


def template_context(
    statement: Statement, statement_id: str, business: Business, recipient: str
) -> dict[str, Any]:
    """What a template sees: text ready to print, and `raw`, the statement itself."""
    money, balance, day = formatting.money, formatting.balance, formatting.day
    return {
        "business": {
            "name": business.name,
            "address_lines": list(business.address_lines),
            "contact": business.contact,
            "payment_instructions": business.payment_instructions,
        },
        "account": {
            "number": statement.account.number,
            "name": statement.account.name,
            "email": recipient,
        },
        "statement": {
            "id": statement_id,
            "currency": statement.account.currency,
            "period_start": day(statement.period.start),
            "period_end": day(statement.period.end),
            "opening_balance": balance(statement.opening_balance),
            "closing_balance": balance(statement.closing_balance),
            "total_debits": money(statement.total_debits),
            "total_credits": money(statement.total_credits),
            "amount_due": money(statement.amount_due),
            # What we owe the customer when the account is in credit, else 0.00.
            "credit": money(max(-statement.closing_balance, Decimal(0))),
            "due_date": day(statement.due_date),
            "nothing_due": statement.amount_due == 0,
            "in_credit": statement.closing_balance < 0,
        },
        "lines": [
            {
                "date": day(line.day),
                "reference": line.reference or "",
                "description": line.description,
                "debit": formatting.money_or_blank(line.debit),
                "credit": formatting.money_or_blank(line.credit),
                "balance": balance(line.balance),
            }
            for line in statement.lines
        ],
        "aging": [
            {"label": label, "amount": balance(amount)}
            for label, amount in formatting.aging_columns(statement.aging)
        ],
        "raw": statement,
    }
