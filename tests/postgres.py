"""A throw-away PostgreSQL cluster for the tests: started from the server binaries, removed afterwards.

Hand-written rather than `pytest-postgresql`: that plugin runs `pg_ctl` as the current user, and PostgreSQL
refuses to run as root (dbfixtures/pytest-postgresql#341 and #455, closed without an option for it), which is
how CI and containers run. Here, as root, `initdb` and the server run as the unprivileged `postgres` system
user (Debian's package creates it) in a temporary directory that user owns; otherwise they run as ourselves.

The cluster trusts local connections, listens on 127.0.0.1 on a free port only, and keeps its unix socket in
its own directory, so it never meets a system PostgreSQL. fsync is off: the data lives for one test session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEARCH_GLOB = "/usr/lib/postgresql/*/bin"
# Who runs the server when the tests run as root: Debian's package creates `postgres`.
SERVER_USERS = ("postgres", "nobody")
SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60
_VERSION = re.compile(r"/(\d+)(?:\.(\d+))?/bin/?$")


class PostgresUnavailable(Exception):
    """No PostgreSQL server binaries on this machine."""


def _version_key(bin_dir: str) -> tuple[int, int]:
    match = _VERSION.search(bin_dir)
    return (int(match.group(1)), int(match.group(2) or 0)) if match else (0, 0)


def _has_server(path: Path) -> bool:
    return all((path / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def find_server_binaries(environ: Mapping[str, str] = os.environ) -> Path:
    """The directory holding `initdb`, `pg_ctl` and `postgres`: `NEXUS_POSTGRES_BIN` if set, else the newest
    /usr/lib/postgresql/*/bin, else `pg_config --bindir` from PATH. Raises `PostgresUnavailable` saying where
    it looked."""
    chosen = environ.get("NEXUS_POSTGRES_BIN")
    if chosen:
        if not _has_server(Path(chosen)):
            raise PostgresUnavailable(f"NEXUS_POSTGRES_BIN={chosen} holds no initdb, pg_ctl and postgres")
        return Path(chosen)
    installed = [path for path in Path("/").glob(SEARCH_GLOB.lstrip("/")) if _has_server(path)]
    if installed:
        return max(installed, key=lambda path: _version_key(str(path)))
    pg_config = shutil.which("pg_config", path=environ.get("PATH"))
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            bindir = subprocess.run(  # noqa: S603  (a binary found on PATH, fixed arguments)
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if bindir and _has_server(Path(bindir)):
                return Path(bindir)
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in $NEXUS_POSTGRES_BIN, "
        f"{SEARCH_GLOB} or `pg_config --bindir`; install Debian's `postgresql` package"
    )


def run_in_own_loop(main: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
    """Run `main()` to the end in a thread with its own event loop, so that synchronous code (a fixture) may call
    it while pytest-asyncio owns the test's loop; its error is raised here."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # handed to the calling thread
            failure.append(error)

    worker = threading.Thread(target=target, name=name)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class _RunAs:
    """The unprivileged account the server runs as when we are root; None: as ourselves."""

    account: pwd.struct_passwd | None

    @classmethod
    def choose(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls(None)
        for name in SERVER_USERS:
            with contextlib.suppress(KeyError):
                return cls(pwd.getpwnam(name))
        raise RuntimeError(f"running as root and none of the users {', '.join(SERVER_USERS)} exists to run PostgreSQL")

    def own(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def options(self) -> dict[str, Any]:
        """subprocess options: drop to the account (setgid, setgroups, setuid in the child), no PAM involved."""
        if self.account is None:
            return {}
        return {
            "user": self.account.pw_uid,
            "group": self.account.pw_gid,
            "extra_groups": [],
            "env": {**os.environ, "HOME": self.account.pw_dir, "USER": self.account.pw_name},
        }


class PostgresCluster:
    """One cluster in a temporary directory; `start()`, then `database()` per test, then `stop()`."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.host = "127.0.0.1"
        self.port = 0
        self._run_as = _RunAs.choose()
        self._base: Path | None = None
        self._names = itertools.count(1)
        self._lock = threading.Lock()

    # --- paths ------------------------------------------------------------------------------------------------

    @property
    def base(self) -> Path:
        if self._base is None:
            raise RuntimeError("the cluster is not started")
        return self._base

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base / "socket"

    @property
    def log_file(self) -> Path:
        return self.base / "server.log"

    # --- life cycle -------------------------------------------------------------------------------------------

    def _run(self, *args: str, timeout: float = START_TIMEOUT_SECONDS) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        return subprocess.run(  # noqa: S603  (the server binaries, arguments we build)
            command,
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            # Ctrl-C on the test run must not reach the server before we stop it ourselves.
            start_new_session=True,
            **self._run_as.options(),
        )

    def _checked(self, *args: str) -> None:
        result = self._run(*args)
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-4000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"`{' '.join(args)}` failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}{log}".rstrip()
            )

    def start(self) -> None:
        # Somewhere the server's account can reach: as root, $TMPDIR may be under /root.
        parent = "/tmp" if self._run_as.account is not None else None  # noqa: S108
        self._base = Path(tempfile.mkdtemp(prefix="nexus-postgres-", dir=parent))
        try:
            self._run_as.own(self.base)
            self.socket_dir.mkdir()
            self._run_as.own(self.socket_dir)
            self._checked(
                "initdb",
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            )
            self._start_server()
        except BaseException:
            self.stop()
            raise

    def _start_server(self, port: int | None = None) -> None:
        # Another process may take a free port between the probe and the bind: try a few (the same one if given).
        for attempt in range(3):
            self.port = port or _free_port()
            options = (
                f"-c listen_addresses={self.host} -p {self.port} -k {self.socket_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            result = self._run(
                "pg_ctl",
                "start",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--wait",
                "--timeout",
                str(START_TIMEOUT_SECONDS),
                "--options",
                options,
                timeout=START_TIMEOUT_SECONDS + 10,
            )
            if result.returncode == 0:
                return
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            if "could not bind" not in log or attempt == 2:
                raise RuntimeError(
                    f"the PostgreSQL server did not start (exit code {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}{log[-4000:]}".rstrip()
                )

    @contextlib.contextmanager
    def server_down(self) -> Iterator[None]:
        """The server stopped for the block, as in a restart or an outage (a fast shutdown: open connections are
        closed), then started again on the same port with the same data, so existing URLs work again."""
        self._checked("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "fast", "--wait")
        try:
            yield
        finally:
            self._start_server(port=self.port)

    def stop(self) -> None:
        if self._base is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "immediate", "--wait")
        finally:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    # --- databases --------------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def execute(self, *statements: str) -> None:
        """Run statements on the maintenance database, outside any transaction (CREATE DATABASE needs that).

        In a thread with its own event loop, so a synchronous fixture may call it while pytest-asyncio owns the
        test's loop."""
        import asyncpg  # type: ignore[import-untyped]

        async def run() -> None:
            connection = await asyncpg.connect(host=self.host, port=self.port, user=SUPERUSER, database="postgres")
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        run_in_own_loop(run, "postgres-admin")

    def new_database_name(self) -> str:
        with self._lock:
            return f"nexus_test_{next(self._names)}"

    @contextlib.contextmanager
    def database(self, template: str | None = None) -> Iterator[str]:
        """A new database for one test, as an async URL; dropped afterwards (even with connections left). Empty,
        or a copy of `template` (a file-level copy: far quicker than running the migrations again)."""
        name = self.new_database_name()
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        try:
            yield self.url(name)
        finally:
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_cluster(bin_dir: Path | None = None) -> Iterator[PostgresCluster]:
    """A started cluster for the duration of the block, removed afterwards; binaries found if not given."""
    cluster = PostgresCluster(bin_dir or find_server_binaries())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
