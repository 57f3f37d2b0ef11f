"""`python -m services.local.mailchimp --port 0` starts, says where it is, and stops on TERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from services.local.mailchimp import make_client


def test_module_runs_standalone() -> None:
    # An audience id containing "server" checks that make_client stops the official client
    # from replacing "server" in URLs with the key's data center.
    args = ["--port", "0", "--api-key", "abc-us9", "--audience-id", "server0001"]
    command = [sys.executable, "-m", "services.local.mailchimp", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            info = json.loads(process.stdout.readline())
            assert info["api_url"].startswith("http://127.0.0.1:")
            assert info["api_url"].endswith("/3.0")
            client = make_client(info["api_url"], info["api_key"])
            assert client.ping.get()["health_status"] == "Everything's Chimpy!"
            assert client.lists.get_list("server0001")["id"] == info["audience_id"]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
