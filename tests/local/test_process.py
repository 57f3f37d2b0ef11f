"""The shared child-process helper: failures are clear and nothing is left running."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from services.local.process import ChildProcess, ChildStartError, free_port

# A child that listens on a port and says "ready"; with a second argument it ignores SIGTERM.
LISTENER = textwrap.dedent(
    """
    import signal, socket, sys, time
    if len(sys.argv) > 2:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server = socket.socket()
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
    print("ready", flush=True)
    time.sleep(60)
    """
)


def _child(tmp_path: Path, argv: list[str], port: int = 0) -> ChildProcess:
    return ChildProcess(
        "stub", argv, port=port, log_path=tmp_path / "stub.log", ready_line=b"ready"
    )


def test_early_exit_raises_with_the_log_tail(tmp_path: Path) -> None:
    child = _child(tmp_path, ["sh", "-c", "echo 'config is broken' >&2; exit 3"])
    with pytest.raises(ChildStartError, match=r"(?s)rc 3 .*config is broken") as caught:
        child.start(ready_timeout_s=5)
    assert not caught.value.port_in_use


def test_timeout_raises_and_stops_the_child(tmp_path: Path) -> None:
    child = _child(tmp_path, ["sleep", "30"], port=free_port())
    began = time.monotonic()
    with pytest.raises(ChildStartError, match="not ready"):
        child.start(ready_timeout_s=0.3)
    assert time.monotonic() - began < 3
    assert child.pid is not None and not psutil.pid_exists(child.pid)


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    port = free_port()
    child = _child(
        tmp_path, [sys.executable, "-c", LISTENER, str(port), "ignore-sigterm"], port=port
    )
    child.start(ready_timeout_s=10)
    assert child.running
    child.stop(timeout_s=0.3)
    assert child.pid is not None and not psutil.pid_exists(child.pid)


def test_children_left_running_are_stopped_at_exit(tmp_path: Path) -> None:
    parent = textwrap.dedent(
        f"""
        from pathlib import Path
        from services.local.process import ChildProcess, free_port
        port = free_port()
        child = ChildProcess("stub", [{sys.executable!r}, "-c", {LISTENER!r}, str(port)], port=port,
                             log_path=Path({str(tmp_path)!r}) / "stub.log", ready_line=b"ready")
        child.start(ready_timeout_s=10)
        print(child.pid, flush=True)
        # exits without child.stop()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(done.stdout.split()[0])
    assert not psutil.pid_exists(pid)
