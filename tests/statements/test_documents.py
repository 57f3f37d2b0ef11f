"""The statement as people read it: the PDF's text, the email's text and HTML, operators'
templates, and names outside Latin-1."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from services.statements.business import Business
from services.statements.documents import StatementRenderer
from services.statements.domain.schedule import Period
from services.statements.domain.statement import StatedAccount, Statement, state_account
from services.statements.pdf import latin1
from tests.statements.domain.examples import ACCOUNT, AUCKLAND, entry
from tests.statements.pdf_text import pdf_text

BUSINESS = Business(
    name="Kauri Hardware Ltd",
    address_lines=("12 Queen Street", "Auckland 1010"),
    contact="accounts@kauri.example",
    payment_instructions="Bank transfer to 12-3456-7890123-00.",
)
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


def november(account: StatedAccount = ACCOUNT, charges: int = 2) -> Statement:
    entries = [entry("o", "opening_balance", "300.00", date(2026, 8, 3), reference="c-1")]
    for n in range(charges):
        day = date(2026, 11, 2) + timedelta(days=n % 28)
        entries.append(entry(f"c{n}", "charge", "12.50", day, reference=f"S-{n:04d}"))
    entries.append(entry("p", "payment", "-100.00", date(2026, 11, 20), reference="PAY-1"))
    return state_account(account, entries, NOVEMBER, AUCKLAND)


def test_pdf_shows_the_whole_statement() -> None:
    document = StatementRenderer(BUSINESS).render(november(), "ACC-0001/2026-11-30", "a@b.nz")

    text = pdf_text(document.pdf)

    for expected in (
        "Kauri Hardware Ltd",
        "12 Queen Street",
        "STATEMENT",
        "Hammer & Sons Ltd",
        "Account ACC-0001",
        "1 Nov 2026 to 30 Nov 2026",
        "Opening balance",
        "300.00",
        "Balance brought forward",
        "S-0000",
        "S-0001",
        "PAY-1",
        "Closing balance",
        "225.00",
        "Due by 30 Dec 2026",
        "Aged balance as of 30 Nov 2026",
        "Over 90 days",
        "How to pay",
        "Bank transfer to 12-3456-7890123-00.",
        "Payment reference: ACC-0001",
        "REMITTANCE ADVICE",
        "Page 1 of 1",
    ):
        assert expected in text, expected


def test_long_statement_runs_over_pages_with_every_entry() -> None:
    statement = november(charges=90)

    text = pdf_text(StatementRenderer(BUSINESS).render(statement, "S-1", "a@b.nz").pdf)

    assert all(f"S-{n:04d}" in text for n in range(90))
    assert "Page 4 of 4" in text
    assert "(cont.)" in text


def test_email_text_and_html_carry_the_figures_and_escape_names() -> None:
    account = StatedAccount("ACC-0002", "<Tools & Co>", "NZD", 30)

    document = StatementRenderer(BUSINESS).render(november(account), "ACC-0002/x", "a@b.nz")

    assert "Amount due:   NZD 225.00" in document.text
    assert "Due by:       30 Dec 2026" in document.text
    assert "&lt;Tools &amp; Co&gt;" in document.html
    assert "<Tools & Co>" not in document.html
    assert document.subject == (
        "Kauri Hardware Ltd statement for <Tools & Co> (ACC-0002), period ending 30 Nov 2026"
    )


def test_operator_templates_replace_the_built_in_ones(tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("Your {{ business.name }} account {{ account.number }}")
    (tmp_path / "email.txt").write_text("Kia ora {{ account.name }}: {{ statement.amount_due }}")

    document = StatementRenderer(BUSINESS, tmp_path).render(november(), "S-1", "a@b.nz")

    assert document.subject == "Your Kauri Hardware Ltd account ACC-0001"
    assert document.text == "Kia ora Hammer & Sons Ltd: 225.00"
    assert "Balance brought forward" in document.html  # the built-in one, not overridden


def test_misspelt_name_in_an_operator_template_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("{{ acount.number }}")

    with pytest.raises(UndefinedError):
        StatementRenderer(BUSINESS, tmp_path).render(november(), "S-1", "a@b.nz")


def test_helvetica_writes_names_outside_latin1_without_their_accents() -> None:
    account = StatedAccount("ACC-0003", "Whāngārei Timber — Ōtaki", "NZD", 30)

    text = pdf_text(StatementRenderer(BUSINESS).render(november(account), "S-1", "a@b.nz").pdf)

    assert latin1("Whāngārei — “Ōtaki”") == 'Whangarei - "Otaki"'
    assert "Whangarei Timber - Otaki" in text


def test_the_same_statement_renders_to_the_same_pdf() -> None:
    renderer = StatementRenderer(BUSINESS)

    first = renderer.render(november(), "S-1", "a@b.nz").pdf
    second = renderer.render(november(), "S-1", "a@b.nz").pdf

    assert first == second


def test_broken_operator_template_is_found_before_any_statement(tmp_path: Path) -> None:
    (tmp_path / "email.html").write_text("<p>{{ statement.amount_owed }}</p>")

    with pytest.raises(UndefinedError, match="amount_owed"):
        StatementRenderer(BUSINESS, tmp_path).check()
