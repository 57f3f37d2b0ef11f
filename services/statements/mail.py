"""The statement as an email: text with an HTML alternative, and the PDF attached."""

from __future__ import annotations

import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from services.common.ids import derived_id
from services.statements.documents import Document

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def message_id_for(statement_id: str, sender: str) -> str:
    """The Message-ID of a statement: derived from its id, so every attempt, every replica and
    a resend after a crash use the same one, and a duplicate can be recognised."""
    _, _, domain = sender.rpartition("@")
    return f"<{derived_id('statement', statement_id)}@{domain or 'tabs.localhost'}>"


def pdf_filename(account_number: str, period_end: str) -> str:
    return f"statement-{_UNSAFE_FILENAME.sub('-', account_number)}-{period_end}.pdf"


def statement_email(
    document: Document,
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    message_id: str,
    filename: str,
    sent_at: datetime,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = document.subject
    message["From"] = Address(display_name=sender_name, addr_spec=sender)
    message["To"] = recipient
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id
    # A statement is not a conversation: ask robots not to answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(document.text)
    message.add_alternative(document.html, subtype="html")
    message.add_attachment(document.pdf, maintype="application", subtype="pdf", filename=filename)
    return message
