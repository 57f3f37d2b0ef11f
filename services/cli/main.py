"""`tabs`: run the system, one worker, or send a message."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from services.cli.registry import ServiceName, load

app = typer.Typer(
    name="tabs",
    no_args_is_help=True,
    add_completion=False,
    help="Tabs: customer accounts for retailers (credit checks, ledgers, loyalty, statements).",
)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiokafka reports every rebalance and retry, and aiosmtpd every connection, at INFO;
    # keep them for --log-level debug.
    for chatty in ("aiokafka", "mail.log"):
        logging.getLogger(chatty).setLevel(
            max(logging.WARNING, logging.getLevelName(level.upper()))
        )


@app.command()
def worker(
    service: Annotated[ServiceName, typer.Argument(help="Which worker to run.")],
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run one worker against the environment (KAFKA_BOOTSTRAP_SERVERS, *_DATABASE_URL, ...)."""
    from services.common.worker import Worker

    _configure_logging(log_level)
    entry = load(service)
    settings = entry.settings()
    running = Worker(entry.spec, settings, settings.database_url)  # type: ignore[attr-defined]
    asyncio.run(running.run_until_signalled())


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where every part keeps its data.")] = Path(
        ".tabs"
    ),
    partitions: Annotated[int, typer.Option(help="Partitions per topic.")] = 6,
    http_port: Annotated[int, typer.Option(help="First worker HTTP port (then +1, +2).")] = 8081,
    log_level: Annotated[str, typer.Option(help="Log level of the workers.")] = "info",
) -> None:
    """Run the whole system on this machine: broker, databases, mail, marketing, three workers."""
    try:
        from services.local.stack import run_stack
    except ImportError as missing:
        raise typer.BadParameter(
            f"tabs up runs embedded parts this installation lacks ({missing.name}): "
            "pip install 'tabs[local]' (the README's '.[dev]' includes it)"
        ) from None

    _configure_logging("info")
    run_stack(data_dir=data_dir, partitions=partitions, http_port=http_port, log_level=log_level)


@app.command()
def publish(
    topic: Annotated[str, typer.Argument(help="A contract topic, e.g. pos.sales.v1.")],
    payload: Annotated[str, typer.Argument(help="The JSON message, @file, or - for stdin.")],
    bootstrap: Annotated[
        str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers.")
    ] = "127.0.0.1:9092",
    key: Annotated[
        str | None, typer.Option(help="Message key (default: the topic's rule).")
    ] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the replies (0: none).")] = 10.0,
) -> None:
    """Publish one message, keyed by the contract's rule, and print the replies it caused."""
    from services.cli.publish import publish_and_follow

    raise typer.Exit(asyncio.run(publish_and_follow(topic, payload, bootstrap, key, wait)))


@app.command()
def asyncapi(
    out: Annotated[Path, typer.Option(help="Directory for the documents.")] = Path("docs/asyncapi"),
) -> None:
    """Write the AsyncAPI document of each service, generated from its FastStream app."""
    from services.cli.docs import write_documents

    for path in write_documents(out):
        typer.echo(f"wrote {path}")


def _add_service_commands() -> None:
    from services.cli.crm import app as crm_app
    from services.cli.statement import statement

    app.add_typer(crm_app, name="crm")
    app.command("statement")(statement)
    try:
        from services.cli.bench import bench
    except ModuleNotFoundError as missing:
        # The worker image (deploy/Dockerfile) holds the services, not the bench.
        if (missing.name or "").partition(".")[0] != "bench":
            raise
    else:
        app.command("bench")(bench)


_add_service_commands()


def main() -> None:
    app()
