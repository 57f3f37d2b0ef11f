"""Handing a statement to the mail server: the standard library's smtplib, in a thread.

Each step says what became of the message: `Refused` while nothing was handed over (it is safe
to try again), `Unanswered` when the data went out but no answer came back (it may have been
taken: never retried on its own), `Accepted` on the server's 250.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

from services.statements.domain.delivery import Accepted, Attempt, Refused, Unanswered
from services.statements.settings import SmtpSecurity

_OK = 250
_WILL_FORWARD = 251
_START_INPUT = 354
_LEADING_DOT = re.compile(rb"(?m)^\.")
_PERMANENT = 500
_REASON_CHARS_MAX = 500


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: SmtpSecurity
    timeout_s: float
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None


class MailServer:
    """Sends one message per connection; the connection is closed whatever happens."""

    def __init__(self, server: SmtpServer, send_timeout_s: float) -> None:
        self._server = server
        self._send_timeout_s = send_timeout_s

    async def send(self, message: EmailMessage, sender: str, recipient: str) -> Attempt:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(_send, self._server, message, sender, recipient),
                self._send_timeout_s,
            )
        except TimeoutError:
            # The thread may still finish the conversation: what became of it is unknown.
            return Unanswered(f"no answer from the mail server within {self._send_timeout_s}s")


def _send(server: SmtpServer, message: EmailMessage, sender: str, recipient: str) -> Attempt:
    data = message.as_bytes(policy=SMTP_POLICY)
    try:
        client = _connect(server)
    except (OSError, smtplib.SMTPException) as error:
        return Refused(f"cannot reach {server.host}:{server.port}: {_describe(error)}", False)
    try:
        return _converse(client, server, data, sender, recipient)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def _connect(server: SmtpServer) -> smtplib.SMTP:
    if server.security == "ssl":
        return smtplib.SMTP_SSL(
            server.host, server.port, timeout=server.timeout_s, context=_tls(server)
        )
    return smtplib.SMTP(server.host, server.port, timeout=server.timeout_s)


def _tls(server: SmtpServer) -> ssl.SSLContext:
    # Certificates and host names are always checked; a private relay brings its own CA.
    return ssl.create_default_context(cafile=str(server.ca_file) if server.ca_file else None)


def _converse(
    client: smtplib.SMTP, server: SmtpServer, data: bytes, sender: str, recipient: str
) -> Attempt:
    try:
        client.ehlo()
        if server.security == "starttls":
            client.starttls(context=_tls(server))
            client.ehlo()
        if server.username is not None and server.password is not None:
            client.login(server.username, server.password)
    except (OSError, smtplib.SMTPException) as error:
        # A refused login is the relay's setup, not the statement's: it may be fixed in time
        # for the next attempt.
        return Refused(_describe(error), False)
    try:
        for code, reply in (client.mail(sender), client.rcpt(recipient)):
            if code not in (_OK, _WILL_FORWARD):
                return _refusal(code, reply)
        client.putcmd("data")
        code, reply = client.getreply()
    except smtplib.SMTPResponseException as error:
        return _refusal(error.smtp_code, error.smtp_error)
    except (OSError, smtplib.SMTPException) as error:
        return Refused(_describe(error), False)
    if code != _START_INPUT:
        return _refusal(code, reply)
    try:
        client.send(_dot_stuffed(data))
        code, reply = client.getreply()
    except (OSError, smtplib.SMTPException) as error:
        return Unanswered(f"the connection failed while the message went out: {_describe(error)}")
    if code != _OK:
        return _refusal(code, reply)
    return Accepted()


def _dot_stuffed(data: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321 4.5.2): a leading dot doubled, then CRLF.CRLF."""
    stuffed = _LEADING_DOT.sub(b"..", data)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _refusal(code: int, reply: bytes | str) -> Refused:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return Refused(f"{code} {text}"[:_REASON_CHARS_MAX], code >= _PERMANENT)


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"[:_REASON_CHARS_MAX]
