"""The mail catcher, over real smtplib connections."""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib
import socket
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.local.mail_catcher import MailCatcher

# The catcher filters this at import, but pytest resets filters for each test.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + bytes(range(256))


def _statement() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "statements@tabs.example"
    message["To"] = "customer@example.com"
    message["Subject"] = "Your statement for March"
    message.set_content("Your statement is attached.")
    message.add_attachment(
        PDF, maintype="application", subtype="pdf", filename="statement-2025-03.pdf"
    )
    return message


def test_authenticated_message_with_pdf_arrives_parsed(
    tmp_path: Path, assert_stopped: Callable[[int | None, int], None]
) -> None:
    maildir = tmp_path / "mail"
    catcher = MailCatcher(maildir, username="tabs", password="s3cret")
    catcher.start()
    try:
        with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as smtp:
            smtp.login("tabs", "s3cret")
            smtp.send_message(_statement())
        [caught] = catcher.wait_for(1, timeout_s=5)
    finally:
        port = catcher.port
        catcher.stop()
    assert_stopped(None, port)

    assert caught.mail_from == "statements@tabs.example"
    assert caught.rcpt_tos == ("customer@example.com",)
    assert caught.login == "tabs"
    assert caught.message["Subject"] == "Your statement for March"
    [attachment] = caught.message.iter_attachments()
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "statement-2025-03.pdf"
    assert attachment.get_content() == PDF

    [eml] = maildir.glob("*.eml")
    assert eml.read_bytes() == caught.raw
    assert email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)["To"] == (
        "customer@example.com"
    )


def test_auth_is_required_and_checked(tmp_path: Path) -> None:
    with MailCatcher(username="tabs", password="s3cret") as catcher:
        with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login("tabs", "wrong")
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                smtp.send_message(_statement())
            assert refused.value.smtp_code == 530
        with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.esmtp_features["auth"] = "LOGIN"  # smtplib prefers PLAIN; cover LOGIN too
            smtp.login("tabs", "s3cret")
            smtp.send_message(_statement())
        assert len(catcher.wait_for(1, timeout_s=5)) == 1


def test_without_credentials_anyone_may_send_and_waits_are_bounded() -> None:
    with MailCatcher() as catcher:
        with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as smtp:
            smtp.send_message(_statement(), to_addrs=["a@example.com", "b@example.com"])
        [caught] = catcher.wait_for(1, timeout_s=5)
        assert caught.rcpt_tos == ("a@example.com", "b@example.com")
        assert caught.login is None
        with pytest.raises(TimeoutError, match="1 of 2 messages"):
            catcher.wait_for(2, timeout_s=0.1)
        assert catcher.messages == [caught]


def test_a_taken_port_fails_fast() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        began = time.monotonic()
        with pytest.raises(OSError, match="in use"):
            MailCatcher(port=holder.getsockname()[1]).start()
        assert time.monotonic() - began < 1


async def test_waiting_from_a_coroutine_leaves_the_event_loop_running() -> None:
    """A sender on the same event loop (a worker in a test) goes on while the test waits."""
    sent = asyncio.Event()

    async def send_later(catcher: MailCatcher) -> None:
        await asyncio.sleep(0.05)  # runs only if the loop is not blocked by the wait
        sent.set()
        await asyncio.to_thread(_send_plain, catcher)

    with MailCatcher() as catcher:
        sending = asyncio.create_task(send_later(catcher))
        [caught] = await catcher.arrived(1, timeout_s=5)
        await sending
        assert sent.is_set()
        assert caught.rcpt_tos == ("a@example.com",)


def _send_plain(catcher: MailCatcher) -> None:
    with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as smtp:
        smtp.send_message(_statement(), to_addrs=["a@example.com"])
