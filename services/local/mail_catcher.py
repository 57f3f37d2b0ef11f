"""A local SMTP server that keeps every message it receives, for development and tests.

aiosmtpd's Controller runs the server on its own thread and event loop, so the catcher works
the same from sync code, from pytest and beside an application's own loop.
No STARTTLS: it would need a certificate, and the `cryptography` package that would generate
one is not installed; plain SMTP on 127.0.0.1 is what local runs need.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import errno
import itertools
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from services.local.process import HOST, free_port

_PORT_ATTEMPTS = 3
# AUTH without TLS is the point of a loopback-only catcher; aiosmtpd warns on every connection.
warnings.filterwarnings(
    "ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning
)


@dataclass(frozen=True)
class CaughtMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    login: str | None  # the AUTH user, when the client authenticated


class MailCatcher:
    """SMTP on 127.0.0.1; with username and password set, AUTH LOGIN/PLAIN is required."""

    def __init__(
        self,
        maildir: Path | None = None,
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        ready_timeout_s: float = 5.0,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("set both username and password, or neither")
        self.maildir = maildir
        self._requested_port = port or None  # 0 means "pick one" too, as for bind()
        self._credentials = None if username is None or password is None else (username, password)
        self._ready_timeout_s = ready_timeout_s
        self._controller: Controller | None = None
        self._port: int | None = None
        self._messages: list[CaughtMessage] = []
        self._arrived = threading.Condition()  # guards _messages; notified on each arrival
        self._sequence = itertools.count(1)  # keeps .eml names unique within one nanosecond

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("MailCatcher is not running")
        return self._port

    @property
    def messages(self) -> list[CaughtMessage]:
        with self._arrived:
            return list(self._messages)

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("MailCatcher is already running")
        if self.maildir is not None:
            self.maildir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = self._requested_port or free_port()
            controller = self._controller_on(port)
            try:
                # aiosmtpd reports a bind failure only after its whole ready_timeout; look first.
                _check_bindable(port)
                controller.start()
            except OSError as error:  # TimeoutError included
                controller.stop(no_assert=True)  # ends its thread if it got as far as running
                controller.loop.close()  # a no-op when that thread closed it
                # Another process took the port we picked: pick again (never a given port).
                retry = self._requested_port is None and error.errno == errno.EADDRINUSE
                if not retry or attempt == _PORT_ATTEMPTS:
                    raise
            else:
                self._controller, self._port = controller, port
                return

    def _controller_on(self, port: int) -> Controller:
        auth: dict[str, Any] = {}
        if self._credentials is not None:
            # auth_require_tls=False: AUTH over plain text is fine on loopback.
            auth = dict(
                authenticator=self._authenticate, auth_required=True, auth_require_tls=False
            )
        return Controller(
            _Handler(self),
            hostname=HOST,
            port=port,
            ready_timeout=self._ready_timeout_s,
            **auth,
        )

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()  # joins its thread; the listening socket is closed on return
        self._port = None

    def clear(self) -> None:
        with self._arrived:
            self._messages.clear()

    def wait_for(self, count: int, timeout_s: float) -> list[CaughtMessage]:
        """Block until at least `count` messages arrived; TimeoutError after timeout_s.

        It blocks the calling thread: from a coroutine use `arrived`, or the event loop (and
        any sender on it) stops while it waits."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._messages) >= count, timeout_s):
                raise TimeoutError(
                    f"{len(self._messages)} of {count} messages arrived in {timeout_s} s"
                )
            return list(self._messages)

    async def arrived(self, count: int, timeout_s: float) -> list[CaughtMessage]:
        """`wait_for` without blocking the event loop: the wait runs on a thread."""
        return await asyncio.to_thread(self.wait_for, count, timeout_s)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if self._credentials is None or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = data.login.decode(errors="replace")
        password = data.password.decode(errors="replace")
        ok = (login, password) == self._credentials
        # handled=False makes aiosmtpd send the 535 reply itself when the check fails.
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    def _keep(self, caught: CaughtMessage) -> None:
        if self.maildir is not None:
            # Write then rename, so a reader of the folder never sees half a message.
            name = f"{time.time_ns()}-{next(self._sequence):06d}"
            partial = self.maildir / f".{name}.tmp"
            partial.write_bytes(caught.raw)
            partial.rename(self.maildir / f"{name}.eml")
        with self._arrived:
            self._messages.append(caught)
            self._arrived.notify_all()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _check_bindable(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server does
        sock.bind((HOST, port))


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self._catcher = catcher

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)  # what policy.default always builds
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self._catcher._keep(
            CaughtMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                message=message,
                login=login,
            )
        )
        return "250 Message accepted for delivery"
