"""`tabs up`: every part on this machine, each on a free port, data under one directory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.table import Table

from services.common.kafka import ensure_topics
from services.local.broker import EmbeddedBroker
from services.local.mail_catcher import MailCatcher
from services.local.mailchimp import ThreadedMailchimpServer
from services.local.postgres import EmbeddedPostgres
from services.local.process import free_port
from services.local.redis import EmbeddedRedis
from services.local.samples import sample_commands
from shared.topics import ALL_TOPICS, dead_letter_topic

SERVICES = ("credit", "crm", "statements")
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0

console = Console(width=max(Console().width, 120))


class WorkerProcess:
    def __init__(self, name: str, env: dict[str, str], log_path: Path, log_level: str) -> None:
        self.name = name
        self.log_path = log_path
        self.http_port = int(env["HTTP_PORT"])
        self._log: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker", name, "--log-level", log_level],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def ready(self) -> bool:
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the {self.name} worker exited; its log ends:\n{tail}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.http_port}/health/ready", timeout=1
            ) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def run_stack(*, data_dir: Path, partitions: int, http_port: int, log_level: str) -> None:
    data_dir = data_dir.absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    # SIGTERM must unwind like Ctrl-C, or the parts started so far would outlive us; SIGINT
    # too, explicitly, since a shell that starts us in the background hands it down ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        _run(data_dir, partitions, http_port, log_level)
    console.print("stopped; nothing is left running.")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _run(data_dir: Path, partitions: int, http_port: int, log_level: str) -> None:
    with contextlib.ExitStack() as stack:
        console.print(f"[bold]tabs up[/bold]: starting every part under {data_dir}")
        broker = stack.enter_context(EmbeddedBroker(data_dir / "kafka"))
        postgres = stack.enter_context(EmbeddedPostgres(data_dir / "postgres"))
        redis = stack.enter_context(EmbeddedRedis(data_dir / "redis", durable=True))
        mail = stack.enter_context(MailCatcher(maildir=data_dir / "mail"))
        mailchimp = stack.enter_context(_mailchimp())
        databases = {name: postgres.create_database(f"tabs_{name}") for name in SERVICES}
        topics = [*ALL_TOPICS, *(dead_letter_topic(t) for t in ALL_TOPICS)]
        asyncio.run(ensure_topics(broker.bootstrap_servers, topics, partitions))
        token = secrets.token_urlsafe(18)
        base_env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "REDIS_URL": redis.url,
            "SMTP_HOST": mail.host,
            "SMTP_PORT": str(mail.port),
            "STATEMENT_FROM": "statements@tabs.localhost",
            "MAILCHIMP_API_KEY": mailchimp.api_key,
            "MAILCHIMP_AUDIENCE_ID": mailchimp.audience_id,
            "MAILCHIMP_API_URL": mailchimp.api_url,
            "API_TOKENS": token,
            "TOPIC_PARTITIONS": str(partitions),
            # The embedded broker holds a group join for half the session timeout.
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            # The embedded broker re-polls an empty fetch (a record waits about half of this)
            # and, when listing a partition's record batches takes longer than this, returns
            # nothing: 10 ms stalls a partition past ~14,000 batches, 100 ms past ~140,000.
            "KAFKA_FETCH_MAX_WAIT_MS": "100",
            **{f"{name.upper()}_DATABASE_URL": url for name, url in databases.items()},
        }
        (data_dir / "logs").mkdir(exist_ok=True)
        workers = []
        for offset, name in enumerate(SERVICES):
            port = http_port + offset if http_port else free_port()
            env = {**base_env, "HTTP_PORT": str(port)}
            worker = WorkerProcess(name, env, data_dir / "logs" / f"{name}.log", log_level)
            stack.callback(worker.stop)
            workers.append(worker)
        _wait_ready(workers)
        _report(broker, postgres, redis, mail, mailchimp, databases, workers, token, data_dir)
        try:
            _watch(workers)
        finally:
            console.print("stopping every part...")


def _watch(workers: list[WorkerProcess]) -> None:
    """Returns when a worker stops by itself; Ctrl-C arrives as KeyboardInterrupt."""
    while True:
        for worker in workers:
            if worker.process.poll() is not None:
                console.print(f"[red]the {worker.name} worker stopped; see {worker.log_path}[/red]")
                return
        time.sleep(0.2)


@contextlib.contextmanager
def _mailchimp() -> Iterator[ThreadedMailchimpServer]:
    server = ThreadedMailchimpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _wait_ready(workers: list[WorkerProcess]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(workers)
    with console.status("waiting for the workers to join their consumer groups..."):
        while pending:
            pending = [w for w in pending if not w.ready()]
            if pending and time.monotonic() > deadline:
                names = ", ".join(w.name for w in pending)
                raise RuntimeError(f"workers not ready after {READY_TIMEOUT_S:.0f}s: {names}")
            time.sleep(0.2)


def _report(
    broker: EmbeddedBroker,
    postgres: EmbeddedPostgres,
    redis: EmbeddedRedis,
    mail: MailCatcher,
    mailchimp: ThreadedMailchimpServer,
    databases: dict[str, str],
    workers: list[WorkerProcess],
    token: str,
    data_dir: Path,
) -> None:
    table = Table(title="Tabs is running", show_lines=False)
    table.add_column("part", no_wrap=True)
    table.add_column("where", overflow="fold")
    table.add_row("Kafka (Tansu)", broker.bootstrap_servers)
    table.add_row("PostgreSQL 18", postgres.url)
    for name, url in databases.items():
        table.add_row(f"  {name} database", url)
    table.add_row("Redis", redis.url)
    table.add_row("SMTP catcher", f"{mail.host}:{mail.port} (mail saved in {data_dir / 'mail'})")
    table.add_row("Mailchimp stand-in", f"{mailchimp.api_url} (audience {mailchimp.audience_id})")
    for worker in workers:
        table.add_row(
            f"{worker.name} worker", f"http://127.0.0.1:{worker.http_port}  (log {worker.log_path})"
        )
    table.add_row("API token", token)
    console.print(table)
    console.print("\nOpen an account and charge a sale to it (paste into another terminal):\n")
    for command in sample_commands(broker.bootstrap_servers, _tabs_command()):
        console.print(command, soft_wrap=True, highlight=False, markup=False)
    console.print(
        f"\nLook the account up: curl -H 'Authorization: Bearer {token}' "
        f"http://127.0.0.1:{workers[0].http_port}/v1/accounts/ACC-0001",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    console.print("\nPress Ctrl-C to stop everything.")


def _tabs_command() -> str:
    """How to run `tabs` from another terminal: its full path unless it is on the PATH."""
    beside = Path(sys.executable).parent / "tabs"
    if shutil.which("tabs") == str(beside) or not beside.exists():
        return "tabs"
    return str(beside)
