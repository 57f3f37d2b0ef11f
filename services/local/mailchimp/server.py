"""Running the stand-in: `MailchimpServer` on the caller's event loop, or
`ThreadedMailchimpServer` on a loop of its own for synchronous callers (the official client
is synchronous)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from .app import build_app
from .client import make_client
from .state import DEFAULT_API_KEY, DEFAULT_AUDIENCE_ID, ServerState, Settings

T = TypeVar("T")


class MailchimpServer:
    """One Mailchimp account with one audience, served over HTTP on 127.0.0.1 by default."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        audience_id: str = DEFAULT_AUDIENCE_ID,
        audience_name: str = "Tabs customers",
        max_connections: int = 10,
        latency: float = 0.0,
        retry_after: float | None = None,
    ) -> None:
        settings = Settings(
            api_key=api_key,
            audience_id=audience_id,
            audience_name=audience_name,
            max_connections=max_connections,
            latency=latency,
            retry_after=retry_after,
        )
        self.state = ServerState(settings)
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        # A short shutdown timeout: a test's stop() should not wait on a slow client.
        runner = web.AppRunner(build_app(self.state), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound = runner.addresses[0]
        self.port = int(bound[1])
        # A wildcard bind is still reached through loopback by the tests and the dev stack.
        self.host = "127.0.0.1" if host in ("", "0.0.0.0") else host

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MailchimpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/3.0"

    @property
    def api_key(self) -> str:
        return self.state.settings.api_key

    @property
    def audience_id(self) -> str:
        return self.state.settings.audience_id

    def client(self) -> Any:
        """The official client, pointed here (see `make_client`)."""
        return make_client(self.api_url, self.api_key)


class ThreadedMailchimpServer:
    """A `MailchimpServer` on its own event loop in a daemon thread."""

    def __init__(self, **settings: Any) -> None:
        self.server = MailchimpServer(**settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="mailchimp", daemon=True)
        self._thread.start()
        self._loop = loop
        asyncio.run_coroutine_threadsafe(self.server.start(host, port), loop).result(30)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        self._loop = self._thread = None

    def call(self, fn: Callable[[ServerState], T]) -> T:
        """Run `fn(state)` on the server's loop, where state may be touched safely."""
        if self._loop is None:
            raise RuntimeError("server not started")

        async def run() -> T:
            return fn(self.server.state)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def __enter__(self) -> ThreadedMailchimpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_url(self) -> str:
        return self.server.api_url

    @property
    def api_key(self) -> str:
        return self.server.api_key

    @property
    def audience_id(self) -> str:
        return self.server.audience_id

    def client(self) -> Any:
        return self.server.client()
