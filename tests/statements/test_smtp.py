"""Handing statements to real SMTP servers: plain with AUTH, STARTTLS and SSL with a
certificate of our own, and every way a delivery can go wrong."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.local.mail_catcher import MailCatcher
from services.local.process import free_port
from services.statements.documents import Document
from services.statements.domain.delivery import Accepted, Refused, Unanswered
from services.statements.mail import statement_email
from services.statements.smtp import MailServer, SmtpServer

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SENDER = "statements@kauri.example"
RECIPIENT = "accounts@hammer.example"
PDF = b"%PDF-1.4\n.leading dot line\n%%EOF\n"


def message() -> EmailMessage:
    document = Document("Statement", "Amount due: 12.00\n.\n", "<p>Amount due</p>", PDF)
    return statement_email(
        document,
        sender=SENDER,
        sender_name="Kauri Hardware Ltd",
        recipient=RECIPIENT,
        message_id="<statement-1@kauri.example>",
        filename="statement.pdf",
        sent_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


def server(port: int, **extra: Any) -> MailServer:
    return MailServer(SmtpServer("127.0.0.1", port, extra.pop("security", "none"), 2, **extra), 10)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1, made with the system's openssl."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return folder


def tls_context(folder: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


class Keeper:
    """An aiosmtpd handler that keeps what it is given, or refuses, or goes quiet."""

    def __init__(self, *, refuse_rcpt: str | None = None, silent_s: float = 0) -> None:
        self.refuse_rcpt = refuse_rcpt
        self.silent_s = silent_s
        self.received: list[bytes] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        await asyncio.sleep(self.silent_s)
        return "250 Message accepted"


@contextmanager
def serving(handler: Keeper, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_plain_smtp_with_login_hands_over_the_statement() -> None:
    with MailCatcher(username="tabs", password="s3cret") as catcher:
        attempt = await server(catcher.port, username="tabs", password="s3cret").send(
            message(), SENDER, RECIPIENT
        )
        [caught] = await catcher.arrived(1, timeout_s=5)

    assert attempt == Accepted()
    assert caught.login == "tabs"
    assert caught.rcpt_tos == (RECIPIENT,)
    [attachment] = caught.message.iter_attachments()
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_content() == PDF
    # A line of a single dot survives the SMTP dot-stuffing.
    text = caught.message.get_body(preferencelist=("plain",))
    assert isinstance(text, EmailMessage)
    assert text.get_content().splitlines() == ["Amount due: 12.00", "."]


async def test_wrong_password_is_refused_for_now_not_for_good() -> None:
    with MailCatcher(username="tabs", password="s3cret") as catcher:
        attempt = await server(catcher.port, username="tabs", password="wrong").send(
            message(), SENDER, RECIPIENT
        )

    assert isinstance(attempt, Refused)
    assert not attempt.permanent
    assert "535" in attempt.reason


async def test_starttls_verifies_the_server_certificate(certificate: Path) -> None:
    keeper = Keeper()
    with serving(keeper, tls_context=tls_context(certificate), require_starttls=True) as port:
        trusted = server(port, security="starttls", ca_file=certificate / "cert.pem")
        untrusted = server(port, security="starttls")
        plain = server(port)

        assert await trusted.send(message(), SENDER, RECIPIENT) == Accepted()
        refused = await untrusted.send(message(), SENDER, RECIPIENT)
        assert isinstance(refused, Refused) and "CERTIFICATE_VERIFY_FAILED" in refused.reason
        # The server insists on TLS; a client that would not use it is turned away.
        assert isinstance(await plain.send(message(), SENDER, RECIPIENT), Refused)
    assert len(keeper.received) == 1
    assert b"Message-ID: <statement-1@kauri.example>" in keeper.received[0]


async def test_ssl_from_the_first_byte(certificate: Path) -> None:
    keeper = Keeper()
    with serving(keeper, ssl_context=tls_context(certificate)) as port:
        attempt = await server(port, security="ssl", ca_file=certificate / "cert.pem").send(
            message(), SENDER, RECIPIENT
        )

    assert attempt == Accepted()
    assert len(keeper.received) == 1


async def test_refused_recipient_is_refused_for_good() -> None:
    with serving(Keeper(refuse_rcpt="550 5.1.1 no such mailbox")) as port:
        attempt = await server(port).send(message(), SENDER, RECIPIENT)

    assert attempt == Refused("550 5.1.1 no such mailbox", permanent=True)


async def test_busy_server_is_refused_for_now() -> None:
    with serving(Keeper(refuse_rcpt="451 4.3.0 try again later")) as port:
        attempt = await server(port).send(message(), SENDER, RECIPIENT)

    assert attempt == Refused("451 4.3.0 try again later", permanent=False)


async def test_nobody_listening_is_refused_for_now() -> None:
    attempt = await server(free_port()).send(message(), SENDER, RECIPIENT)

    assert isinstance(attempt, Refused) and not attempt.permanent
    assert attempt.reason.startswith("cannot reach 127.0.0.1:")


async def test_message_taken_but_never_answered_is_unanswered() -> None:
    keeper = Keeper(silent_s=4)
    with serving(keeper) as port:
        attempt = await server(port).send(message(), SENDER, RECIPIENT)

    assert isinstance(attempt, Unanswered)
    assert len(keeper.received) == 1  # the server had it: sending again could double it
