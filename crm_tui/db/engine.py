"""The one place that makes database engines and sessions.

SQLite (the default, one file) runs in WAL mode with `synchronous=FULL`, foreign keys on and a
10 s busy timeout. Writers start with `BEGIN IMMEDIATE` so two writers queue on the lock instead
of deadlocking on an upgrade; readers use a separate engine whose transactions are plain
deferred `BEGIN` with `query_only`, so they never take the write lock. This is SQLAlchemy's
pysqlite recipe: hand transaction control to SQLAlchemy and emit BEGIN ourselves.

PostgreSQL (`postgresql+psycopg://...`) goes through the same `Database` object.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from crm_tui.paths import default_db_path

log = logging.getLogger(__name__)

ENV_DB = "CRM_DB"
BUSY_TIMEOUT_MS = 10_000
WRITE_ATTEMPTS = 5
WAL_SIZE_LIMIT = 4 * 1024 * 1024
"""Bytes the WAL file is truncated to after a reset (about SQLite's 1000-page auto-checkpoint)."""

# SQLite stores Numeric as REAL/INTEGER; amounts are quantized on the way out, so the
# "no native Decimal" warning says nothing we have not handled.
warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal objects natively.*")

T = TypeVar("T")


class DatabaseError(RuntimeError):
    """The database could not be opened or written; the message is for people."""


def resolve_url(target: str | os.PathLike[str] | None = None) -> str:
    """`--db` / CRM_DB / the default file, as an SQLAlchemy URL."""
    raw = os.fspath(target) if target is not None else os.environ.get(ENV_DB) or ""
    if not raw:
        raw = os.fspath(default_db_path())
    if "://" in raw:
        return raw
    return f"sqlite:///{Path(raw).expanduser().resolve()}"


def _is_busy(error: BaseException) -> bool:
    orig = getattr(error, "orig", error)
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    # PostgreSQL: serialization failure / deadlock
    code = getattr(orig, "sqlstate", None)
    return code in {"40001", "40P01"}


def _prepare_sqlite_file(path: Path) -> None:
    """Create the parent folder and an empty file readable by its owner only."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)


def _sqlite_engine(url: str, *, write: bool) -> Engine:
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Hand transaction control to SQLAlchemy (the pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = FULL")
        if write:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            # A long reader lets the WAL grow (nothing behind its snapshot can be checkpointed);
            # once it has closed, the next checkpoint and WAL reset cut the file back to this.
            cursor.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        else:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@dataclass
class Database:
    """Engines and session scopes for one database (`--db`)."""

    url: str
    write_engine: Engine
    read_engine: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.write_engine.dialect.name == "sqlite"

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        if not self.is_sqlite:
            return None
        database = make_url(self.url).database
        return Path(database) if database and database != ":memory:" else None

    @property
    def display_name(self) -> str:
        return str(self.path) if self.path else make_url(self.url).render_as_string(hide_password=True)

    # -- sessions ---------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; never takes the write lock.

        Objects loaded here stay usable after the block (detached, attributes loaded): the
        session is closed, which ends the transaction without expiring them (a rollback would).
        """
        session = Session(self.read_engine, expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on any error.

        The write lock is taken up front (`BEGIN IMMEDIATE`), retried a bounded number of
        times if another writer holds it past the busy timeout, so nothing in the block can
        fail later for lack of the lock. Keep the block short: never wait for a person here.
        """
        session = Session(self.write_engine, expire_on_commit=False)
        try:
            self._begin_with_retry(session)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def transact(self, work: Callable[[Session], T], attempts: int = WRITE_ATTEMPTS) -> T:
        """Run `work` in a write transaction, re-running all of it if the database was busy."""
        for attempt in range(1, attempts + 1):
            try:
                with self.write() as session:
                    return work(session)
            except OperationalError as error:
                if not _is_busy(error):
                    raise
                if attempt == attempts:
                    raise self._busy_error(error) from error
                self._backoff(attempt)
        raise AssertionError("unreachable")

    def _begin_with_retry(self, session: Session) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                session.connection()
                return
            except OperationalError as error:
                session.rollback()
                if not _is_busy(error):
                    raise
                if attempt == WRITE_ATTEMPTS:
                    raise self._busy_error(error) from error
                self._backoff(attempt)

    @staticmethod
    def _backoff(attempt: int) -> None:
        time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))

    def _busy_error(self, error: OperationalError) -> DatabaseError:
        log.warning("database busy after %d attempts: %s", WRITE_ATTEMPTS, error.orig)
        return DatabaseError(
            f"{self.display_name} stayed busy: another program is writing to it; try again"
        )

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def open_database(target: str | os.PathLike[str] | None = None) -> Database:
    """Engines for `--db PATH|URL`, CRM_DB or the default file (created 0600 if missing).

    Does not migrate; see `crm_tui.db.migrate.ensure_schema`.
    """
    url = resolve_url(target)
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise DatabaseError(f"--db: {url!r} is neither a file path nor a database URL") from error
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                _prepare_sqlite_file(Path(parsed.database))
            except OSError as error:
                raise DatabaseError(f"--db: cannot create {parsed.database}: {error.strerror}") from None
        write_engine = _sqlite_engine(url, write=True)
        read_engine = _sqlite_engine(url, write=False)
        return Database(url, write_engine, read_engine)
    if parsed.get_backend_name() == "postgresql":
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError:
            raise DatabaseError(
                "--db: PostgreSQL needs the driver: install crm-tui with the 'postgres' extra"
            ) from None
        return Database(url, engine, engine)
    raise DatabaseError(f"--db: unsupported database {parsed.get_backend_name()!r}")

