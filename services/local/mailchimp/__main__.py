"""`python -m services.local.mailchimp --port 0`: run the stand-in until SIGINT or SIGTERM.

The first line on stdout is JSON with url, api_url, api_key and audience_id, so a parent
process (`tabs up`) can start it on port 0 and read where it landed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .server import MailchimpServer
from .state import DEFAULT_API_KEY, DEFAULT_AUDIENCE_ID


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.local.mailchimp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--audience-id", default=DEFAULT_AUDIENCE_ID)
    parser.add_argument("--max-connections", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per call")
    parser.add_argument("--retry-after", type=float, default=None, help="Retry-After on 429")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    server = MailchimpServer(
        api_key=args.api_key,
        audience_id=args.audience_id,
        max_connections=args.max_connections,
        latency=args.latency,
        retry_after=args.retry_after,
    )
    await server.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    info = {
        "url": server.url,
        "api_url": server.api_url,
        "api_key": server.api_key,
        "audience_id": server.audience_id,
    }
    print(json.dumps(info), flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
