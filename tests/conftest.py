"""Fixtures shared by every test directory.

- every test runs with its own config/data dirs and `CRM_USER=tester` (never the real user's files);
- `frozen_now` sets CRM_NOW, the only way tests move time;
- `sqlite_db`, `pg_db` and `db` (both backends) hand out migrated `Database` objects;
- `pg_server` starts a real PostgreSQL server once per session (skipped LOUDLY if the server
  binaries are missing).

Migrated databases are copied from a template that is migrated once per session (a file copy for
SQLite, `CREATE DATABASE ... TEMPLATE` for PostgreSQL), then go through `ensure_schema` like
every program start; the migrations themselves are tested in tests/unit/test_migrations.py.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from crm_tui import config
from crm_tui.db.engine import Database, open_database
from crm_tui.db.migrate import ensure_schema

PG_MISSING = (
    "PostgreSQL server binaries not found: install the 'postgresql' package; "
    "PostgreSQL tests SKIPPED"
)
PG_USER = "crm"
"""The superuser of the test cluster (trust auth, no password)."""
PG_OS_USER = "crmtest"
"""The unprivileged account the server runs as when the tests run as root."""
PG_START_TIMEOUT = 60.0

_pg_skip_reason: str | None = None


# -- isolation -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolate_user_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep every test away from the real user's config, data and database."""
    home = tmp_path_factory.mktemp("user")
    for name in list(os.environ):
        if name.startswith("CRM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv(config.ENV_CONFIG, str(home / "config" / "crm-tui" / "config.toml"))
    monkeypatch.setenv("CRM_USER", "tester")
    config.reset_settings()
    yield
    config.reset_settings()


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | datetime], datetime]:
    """`frozen_now("2026-11-23T09:00:00+01:00")` freezes the clock (CRM_NOW); returns the moment.

    Call it again to move time. Takes an ISO date-time with offset or an aware datetime.
    """

    def freeze(moment: str | datetime) -> datetime:
        text = moment.isoformat() if isinstance(moment, datetime) else str(moment)
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError(f"frozen_now: {text!r} needs an offset")
        monkeypatch.setenv("CRM_NOW", text)
        return parsed

    return freeze


# -- SQLite ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a freshly migrated SQLite file (WAL mode, checkpointed)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    db = open_database(path)
    try:
        ensure_schema(db, backup=False)
    finally:
        db.dispose()  # the last connection checkpoints and removes the -wal file
    return path.read_bytes()


def _copy_template(template: bytes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(template)


@pytest.fixture
def sqlite_db(tmp_path: Path, _sqlite_template: bytes) -> Iterator[Database]:
    """A migrated SQLite database in tmp_path (`crm.sqlite3`)."""
    path = tmp_path / "crm.sqlite3"
    _copy_template(_sqlite_template, path)
    db = open_database(path)
    try:
        ensure_schema(db)
        yield db
    finally:
        db.dispose()


# -- PostgreSQL ------------------------------------------------------------------------------


@dataclass
class PgServer:
    """A running throw-away PostgreSQL cluster."""

    host: str
    port: int
    user: str
    data_dir: Path
    socket_dir: Path
    bin_dir: Path

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        """A psycopg connection in autocommit mode (for CREATE/DROP DATABASE)."""
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=database,
            autocommit=True, connect_timeout=5,
        )

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        name = name or f"crm_test_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _find_pg_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres (PATH first, then Debian's layout)."""
    needed = ("initdb", "pg_ctl", "postgres")
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
        candidates.append(Path(on_path).parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
        reverse=True,
    )
    candidates.extend(Path(p) for p in versions)
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in needed):
            return folder
    return None


def _server_account() -> pwd.struct_passwd | None:
    """None when not root; else an unprivileged account to run initdb and the server as."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(PG_OS_USER)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    if os.access(useradd, os.X_OK):
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_OS_USER],
            stdin=subprocess.DEVNULL, capture_output=True, check=False,
        )
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(PG_OS_USER)  # made now, or by a parallel session
    return pwd.getpwnam("nobody")


def _pg_parent_dir() -> str | None:
    """Where the cluster lives: $CRMTEST_PG_DIR, else RAM (/dev/shm) when roomy, else the tmp dir.

    On a disk CREATE DATABASE costs ~0.4 s even with fsync off; in RAM ~0.01 s.
    """
    chosen = os.environ.get("CRMTEST_PG_DIR")
    if chosen:
        return chosen
    shm = "/dev/shm"
    with contextlib.suppress(OSError):
        if os.access(shm, os.W_OK | os.X_OK) and shutil.disk_usage(shm).free > 1 << 30:
            return shm
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as(account: pwd.struct_passwd | None, args: list[str], cwd: Path, timeout: float):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_"))}
    env.update(LANG="C", LC_ALL="C")
    if account is not None:
        env.update(HOME=str(cwd), USER=account.pw_name, LOGNAME=account.pw_name)
    return subprocess.run(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, check=False,
        user=account.pw_uid if account else None, group=account.pw_gid if account else None,
        extra_groups=[] if account else None,
    )


def _wait_until_ready(server: PgServer, deadline: float) -> None:
    import psycopg

    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with server.connect() as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as error:
            last = error
            time.sleep(0.05)  # polling a server that is starting, not ordering the test
    raise RuntimeError(f"PostgreSQL on port {server.port} did not accept connections: {last}")


def _server_log(root: Path) -> str:
    log = root / "server.log"
    with contextlib.suppress(OSError):
        return log.read_text(errors="replace")[-3000:]
    return ""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server on 127.0.0.1, trust auth, for the whole session."""
    global _pg_skip_reason
    bin_dir = _find_pg_bin_dir()
    if bin_dir is None:
        _pg_skip_reason = PG_MISSING
        pytest.skip(PG_MISSING)
    account = _server_account()
    root = Path(tempfile.mkdtemp(prefix="crm-pg-", dir=_pg_parent_dir()))
    data_dir, socket_dir = root / "data", root / "sock"
    socket_dir.mkdir()
    if account is not None:
        for path in (root, socket_dir):
            os.chown(path, account.pw_uid, account.pw_gid)
    initdb = _run_as(
        account,
        [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", PG_USER, "--auth=trust",
         "-E", "UTF8", "--locale=C", "--no-sync"],
        root, timeout=120,
    )
    if initdb.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
    pg_ctl = str(bin_dir / "pg_ctl")
    server = None
    for _attempt in range(3):  # a parallel session may grab the free port first
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        started = _run_as(
            account,
            [pg_ctl, "-D", str(data_dir), "-l", str(root / "server.log"), "-o", options,
             "-w", "-t", str(int(PG_START_TIMEOUT)), "start"],
            root, timeout=PG_START_TIMEOUT + 10,
        )
        if started.returncode == 0:
            server = PgServer("127.0.0.1", port, PG_USER, data_dir, socket_dir, bin_dir)
            break
    if server is None:
        log = _server_log(root)
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr}\n{log}")
    try:
        _wait_until_ready(server, time.monotonic() + PG_START_TIMEOUT)
        yield server
    finally:
        _run_as(account, [pg_ctl, "-D", str(data_dir), "-m", "fast", "-w", "stop"], root, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def _pg_template(pg_server: PgServer) -> str:
    """A database migrated once, copied by CREATE DATABASE ... TEMPLATE for each test."""
    name = pg_server.create_database("crm_template")
    db = open_database(pg_server.url(name))
    try:
        ensure_schema(db)
    finally:
        db.dispose()  # a template must have no open connections
    return name


@pytest.fixture
def pg_database_factory(
    pg_server: PgServer, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """`make(migrated=False)` -> the URL of a new database of its own, dropped after the test."""
    created: list[str] = []

    def make(migrated: bool = False) -> str:
        # the template is resolved lazily: tests of empty databases don't wait for it
        template = request.getfixturevalue("_pg_template") if migrated else None
        name = pg_server.create_database(template=template)
        created.append(name)
        return pg_server.url(name)

    yield make
    for name in created:
        pg_server.drop_database(name)


@pytest.fixture
def pg_db(pg_database_factory: Callable[..., str]) -> Iterator[Database]:
    """A migrated database of its own on the session's PostgreSQL server."""
    db = open_database(pg_database_factory(migrated=True))
    try:
        ensure_schema(db)
        yield db
    finally:
        db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if _pg_skip_reason:
        terminalreporter.write_sep("!", "WARNING", red=True, bold=True)
        terminalreporter.write_line(_pg_skip_reason, red=True, bold=True)
        terminalreporter.write_sep("!", "PostgreSQL tests SKIPPED", red=True, bold=True)
