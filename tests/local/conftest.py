"""Checks shared by the tests of the local parts."""

from __future__ import annotations

import socket
from collections.abc import Callable

import psutil
import pytest

from services.local.process import HOST, accepts_connections

StoppedCheck = Callable[[int | None, int], None]


def _assert_stopped(pid: int | None, port: int) -> None:
    """The process is gone and its port can be listened on again."""
    if pid is not None:
        assert not psutil.pid_exists(pid), f"pid {pid} is still alive"
    assert not accepts_connections(port), f"something still accepts on {port}"
    # SO_REUSEADDR as every server sets it: our own closed connections may sit in TIME_WAIT.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen()


@pytest.fixture
def assert_stopped() -> StoppedCheck:
    return _assert_stopped
