"""The statement as a PDF (fpdf2): letterhead, summary, every entry with a running balance,
the aged balance, how to pay, and a remittance slip to return with a payment."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from services.statements import formatting
from services.statements.business import Business
from services.statements.domain.statement import Statement

_NAVY = (31, 58, 95)
_INK = (31, 41, 55)
_GREY = (107, 114, 128)
_RULE = (209, 213, 219)
_SHADE = (243, 246, 250)
_WHITE = (255, 255, 255)

_MARGIN = 15.0
_AMOUNT_PT_MIN = 5.0
_REMITTANCE_H = 35.0
_ROW_H = 6.2
# Date, reference, description, debit, credit, balance: 180 mm, the A4 width inside margins.
_COLUMNS = (22.0, 34.0, 52.0, 24.0, 24.0, 24.0)
_ALIGN = ("L", "L", "L", "R", "R", "R")
_FIRST_AMOUNT_COLUMN = 3
_HEADINGS = ("Date", "Reference", "Description", "Debit", "Credit", "Balance")
_CORE_FAMILY = "helvetica"
_TTF_FAMILY = "statement"
# Punctuation that Latin-1 lacks, written the way a typewriter would.
_PLAIN = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)


@dataclass(frozen=True)
class Fonts:
    """A TrueType font and its bold, for names outside Latin-1 (Māori macrons, say)."""

    regular: Path
    bold: Path


def statement_pdf(
    statement: Statement,
    statement_id: str,
    business: Business,
    recipient: str,
    fonts: Fonts | None = None,
) -> bytes:
    document = _StatementPdf(statement, statement_id, business, fonts)
    document.draw(recipient)
    return bytes(document.output())


def latin1(text: str) -> str:
    """Text Helvetica can print: accents that Latin-1 lacks are dropped ("Māori" -> "Maori")."""
    out = []
    for char in text.translate(_PLAIN):
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256)
        out.append(base or "?")
    return "".join(out)


class _StatementPdf(FPDF):
    def __init__(
        self, statement: Statement, statement_id: str, business: Business, fonts: Fonts | None
    ) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.statement = statement
        self.statement_id = statement_id
        self.business = business
        self._unicode = fonts is not None
        if fonts is not None:
            self.add_font(_TTF_FAMILY, "", str(fonts.regular))
            self.add_font(_TTF_FAMILY, "B", str(fonts.bold))
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=20)
        self.alias_nb_pages()
        title = f"Statement {statement.account.number} {statement.period.end.isoformat()}"
        self.set_title(self.clean(title))
        self.set_author(self.clean(business.name))
        self.set_creator("Tabs")
        # The same statement gives the same bytes: dated by its period, not by the clock.
        self.set_creation_date(datetime.combine(statement.period.end, time(0), tzinfo=UTC))

    # Text ------------------------------------------------------------------------------

    def clean(self, text: str) -> str:
        return text if self._unicode else latin1(text)

    def font(self, size: float, *, bold: bool = False, color: tuple[int, int, int] = _INK) -> None:
        self.set_font(_TTF_FAMILY if self._unicode else _CORE_FAMILY, "B" if bold else "", size)
        self.set_text_color(*color)

    def fit(self, text: str, width: float) -> str:
        """The text, shortened with "..." to fit `width` mm with a little padding."""
        text = self.clean(text)
        room = width - 2.0
        if self.get_string_width(text) <= room:
            return text
        while text and self.get_string_width(text + "...") > room:
            text = text[:-1]
        return text + "..."

    def put(self, width: float, height: float, text: str, align: str = "L", **kw: Any) -> None:
        """A cell of text, shortened to fit."""
        self.cell(
            width,
            height,
            self.fit(text, width),
            align=align,
            new_x=XPos.RIGHT,
            new_y=YPos.TOP,
            **kw,
        )

    def put_amount(
        self, width: float, height: float, text: str, align: str = "R", **kw: Any
    ) -> None:
        """A cell holding money: never shortened; a smaller type when it is too long."""
        size = self.font_size_pt
        while size > _AMOUNT_PT_MIN and self.get_string_width(text) > width - 2.0:
            size -= 0.5
            self.set_font_size(size)
        self.cell(width, height, text, align=align, new_x=XPos.RIGHT, new_y=YPos.TOP, **kw)

    # Pages -----------------------------------------------------------------------------

    def header(self) -> None:
        if self.page_no() == 1:
            return
        account = self.statement.account
        self.font(8, color=_GREY)
        self.cell(90, 5, self.fit(self.business.name, 90))
        text = f"Statement {account.number}, {formatting.day(self.statement.period.end)} (cont.)"
        self.cell(90, 5, self.fit(text, 90), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*_RULE)
        self.line(_MARGIN, self.get_y() + 1, 210 - _MARGIN, self.get_y() + 1)
        self.ln(5)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_draw_color(*_RULE)
        self.line(_MARGIN, self.get_y(), 210 - _MARGIN, self.get_y())
        self.ln(1.5)
        self.font(7.5, color=_GREY)
        self.cell(120, 4, self.fit(f"{self.business.name}  |  Statement {self.statement_id}", 120))
        self.cell(60, 4, f"Page {self.page_no()} of {{nb}}", align="R")

    def draw(self, recipient: str) -> None:
        self.add_page()
        self._letterhead()
        self._addressee_and_details(recipient)
        self._summary()
        self._entries()
        self._aging()
        self._how_to_pay()
        if self.statement.amount_due > 0:
            self._remittance()

    # Sections --------------------------------------------------------------------------

    def _letterhead(self) -> None:
        top = self.get_y()
        left = _MARGIN
        logo = self.business.logo_path
        if logo is not None and logo.is_file():
            placed = self.image(str(logo), x=_MARGIN, y=top, h=16)
            left = _MARGIN + min(float(placed.rendered_width), 60.0) + 6
        self.set_xy(left, top)
        self.font(15, bold=True, color=_NAVY)
        self.cell(95, 7, self.fit(self.business.name, 95), new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.font(8.5, color=_GREY)
        for line in [*self.business.address_lines, self.business.contact]:
            if line:
                self.cell(95, 4, self.fit(line, 95), new_x=XPos.LEFT, new_y=YPos.NEXT)
        bottom = self.get_y()
        self.set_xy(120, top)
        self.font(22, bold=True, color=_NAVY)
        self.cell(75, 10, "STATEMENT", align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.font(9, color=_GREY)
        self.cell(75, 5, "Statement of account", align="R")
        self.set_y(max(bottom, top + 18) + 4)
        self.set_draw_color(*_NAVY)
        self.set_line_width(0.6)
        self.line(_MARGIN, self.get_y(), 210 - _MARGIN, self.get_y())
        self.set_line_width(0.2)
        self.ln(6)

    def _addressee_and_details(self, recipient: str) -> None:
        statement, account = self.statement, self.statement.account
        top = self.get_y()
        self.font(8, bold=True, color=_GREY)
        self.cell(95, 4.5, "STATEMENT FOR", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.font(11.5, bold=True)
        self.cell(95, 6, self.fit(account.name, 95), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.font(9)
        self.cell(
            95, 5, self.fit(f"Account {account.number}", 95), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.cell(95, 5, self.fit(recipient, 95), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        bottom = self.get_y()
        details = [
            ("Statement date", formatting.day(statement.period.end)),
            (
                "Period",
                f"{formatting.day(statement.period.start)} to "
                f"{formatting.day(statement.period.end)}",
            ),
            ("Account number", account.number),
            ("Currency", account.currency),
            ("Statement", self.statement_id),
        ]
        self.set_xy(118, top)
        for label, value in details:
            self.set_x(118)
            self.font(8.5, color=_GREY)
            self.cell(28, 5, label)
            self.font(8.5, bold=True)
            self.cell(49, 5, self.fit(value, 49), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_y(max(bottom, self.get_y()) + 6)

    def _summary(self) -> None:
        statement = self.statement
        boxes = [
            ("Opening balance", formatting.balance(statement.opening_balance)),
            ("Debits", formatting.money(statement.total_debits)),
            ("Credits", formatting.money(statement.total_credits)),
            ("Closing balance", formatting.balance(statement.closing_balance)),
        ]
        top = self.get_y()
        width, height = 26.5, 18.0
        self.set_draw_color(*_RULE)
        for index, (label, value) in enumerate(boxes):
            x = _MARGIN + index * (width + 2)
            self.set_fill_color(*_SHADE)
            self.rect(x, top, width, height, style="DF")
            self.set_xy(x, top + 3)
            self.font(7.5, color=_GREY)
            self.cell(width, 4, label, align="C")
            self.set_xy(x, top + 9)
            self.font(10, bold=True)
            self.put_amount(width, 6, value, "C")
        x = _MARGIN + 4 * (width + 2)
        due_width = 210 - _MARGIN - x
        self.set_fill_color(*_NAVY)
        self.rect(x, top, due_width, height, style="F")
        owed = statement.amount_due > 0
        in_credit = statement.closing_balance < 0
        label = "AMOUNT DUE" if owed else "IN CREDIT" if in_credit else "NOTHING TO PAY"
        shown = statement.amount_due if not in_credit else -statement.closing_balance
        self.set_xy(x + 4, top + 2.5)
        self.font(7.5, color=_WHITE)
        self.cell(due_width - 8, 4, label)
        self.set_xy(x + 4, top + 6.5)
        self.font(14, bold=True, color=_WHITE)
        self.put_amount(
            due_width - 8, 7, f"{statement.account.currency} {formatting.money(shown)}", "L"
        )
        if owed:
            self.set_xy(x + 4, top + 13)
            self.font(8.5, color=_WHITE)
            self.cell(due_width - 8, 4, f"Due by {formatting.day(statement.due_date)}")
        elif in_credit:
            self.set_xy(x + 4, top + 13)
            self.font(8.5, color=_WHITE)
            self.cell(due_width - 8, 4, "Nothing to pay")
        self.set_y(top + height + 8)

    def _table_heading(self) -> None:
        self.set_fill_color(*_NAVY)
        self.font(8.5, bold=True, color=_WHITE)
        for width, heading, align in zip(_COLUMNS, _HEADINGS, _ALIGN, strict=True):
            self.put(width, 7, heading, align, fill=True)
        self.ln(7)

    def _row(self, cells: tuple[str, ...], *, shade: bool, bold: bool = False) -> None:
        if self.will_page_break(_ROW_H):
            self.add_page()
            self._table_heading()
        self.set_fill_color(*_SHADE)
        for index, (width, text, align) in enumerate(zip(_COLUMNS, cells, _ALIGN, strict=True)):
            self.font(8.5, bold=bold)
            if index >= _FIRST_AMOUNT_COLUMN:
                self.put_amount(width, _ROW_H, text, align, fill=shade)
            else:
                self.put(width, _ROW_H, text, align, fill=shade)
        self.ln(_ROW_H)

    def _entries(self) -> None:
        statement = self.statement
        self.font(10.5, bold=True, color=_NAVY)
        self.cell(0, 6, "Account activity", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
        self._table_heading()
        opening = formatting.balance(statement.opening_balance)
        start = formatting.day(statement.period.start)
        self._row((start, "", "Balance brought forward", "", "", opening), shade=False)
        for index, line in enumerate(statement.lines):
            cells = (
                formatting.day(line.day),
                line.reference or "",
                line.description,
                formatting.money_or_blank(line.debit),
                formatting.money_or_blank(line.credit),
                formatting.balance(line.balance),
            )
            self._row(cells, shade=index % 2 == 0)
        if not statement.lines:
            self._row(("", "", "No activity in this period", "", "", ""), shade=True)
        self.set_draw_color(*_NAVY)
        self.line(_MARGIN, self.get_y(), 210 - _MARGIN, self.get_y())
        closing = (
            formatting.day(statement.period.end),
            "",
            "Closing balance",
            formatting.money(statement.total_debits),
            formatting.money(statement.total_credits),
            formatting.balance(statement.closing_balance),
        )
        self._row(closing, shade=False, bold=True)
        self.ln(6)

    def _aging(self) -> None:
        aging = formatting.aging_columns(self.statement.aging)
        columns = [*aging, ("Total", self.statement.closing_balance)]
        if self.will_page_break(24):
            self.add_page()
        self.font(10.5, bold=True, color=_NAVY)
        heading = f"Aged balance as of {formatting.day(self.statement.period.end)}"
        self.cell(0, 6, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
        width = 180 / len(columns)
        self.set_draw_color(*_RULE)
        self.set_fill_color(*_SHADE)
        self.font(8, bold=True, color=_GREY)
        for label, _ in columns:
            self.put(width, 6.5, label, "R", border=1, fill=True)
        self.ln(6.5)
        for index, (_, amount) in enumerate(columns):
            self.font(9, bold=index == len(columns) - 1)
            self.put_amount(width, 7, formatting.balance(amount), "R", border=1)
        self.ln(7 + 6)

    def _how_to_pay(self) -> None:
        instructions = self.clean(self.business.payment_instructions).strip()
        if not instructions:
            return
        lines = self.multi_cell(180, 4.8, instructions, dry_run=True, output="LINES")
        assert isinstance(lines, list)
        if self.will_page_break(6 + 4.8 * (len(lines) + 1) + 6):
            self.add_page()
        self.font(10.5, bold=True, color=_NAVY)
        self.cell(0, 6, "How to pay", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.font(9)
        self.multi_cell(180, 4.8, instructions, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.font(9, bold=True)
        reference = f"Payment reference: {self.statement.account.number}"
        self.cell(180, 4.8, self.fit(reference, 180), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def _remittance(self) -> None:
        """A slip across the foot of the last page, cut off and sent back with a cheque."""
        statement = self.statement
        top = self.h - 20 - _REMITTANCE_H
        if self.get_y() + 3 > top:
            self.add_page()
        self.set_y(top)
        self.set_draw_color(*_GREY)
        self.set_dash_pattern(dash=1.2, gap=1.2)
        self.line(_MARGIN, top, 210 - _MARGIN, top)
        self.set_dash_pattern()
        self.ln(1.5)
        self.font(7.5, color=_GREY)
        self.cell(
            0,
            4,
            "Please detach and return this slip with your payment.",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.ln(1)
        self.font(10.5, bold=True, color=_NAVY)
        self.cell(90, 6, "REMITTANCE ADVICE")
        self.font(9, bold=True)
        self.cell(
            90, 6, self.fit(self.business.name, 90), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        owed = formatting.money(statement.amount_due)
        fields = [
            ("Account", f"{statement.account.number}  {statement.account.name}"),
            ("Statement", self.statement_id),
            ("Amount due", f"{statement.account.currency} {owed}"),
            ("Due by", formatting.day(statement.due_date)),
        ]
        first_row = self.get_y()
        for label, value in fields:
            self.font(8.5, color=_GREY)
            self.cell(24, 5, label)
            self.font(8.5, bold=True)
            self.cell(84, 5, self.fit(value, 84), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*_RULE)
        for index, label in enumerate(("Amount paid", "Date paid")):
            y = first_row + index * 10
            self.set_xy(128, y + 1)
            self.font(8.5, color=_GREY)
            self.cell(22, 6, label)
            self.rect(150, y, 45, 8)
