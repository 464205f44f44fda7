"""Bring a database's schema to head: under an OS file lock, after an online backup.

The app, the command line and the daemon call `ensure_schema()` on start. The common case (the
schema is current) costs one small query and never imports Alembic.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm_tui import clock
from crm_tui.db.engine import Database, DatabaseError
from crm_tui.db.revision import HEAD_REVISION

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x63726D74  # "crmt"


def current_revision(db: Database) -> str | None:
    """The revision stamped in the database, or None when it has none (empty, never migrated).

    Only a missing `alembic_version` table means "none": a database that cannot be reached or
    read raises (it must not look empty, or it would be "migrated" from scratch).
    """
    with db.read_engine.connect() as conn:
        if db.is_sqlite:
            probe = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        else:
            probe = "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL"
        if conn.execute(text(probe)).first() is None:
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _has_tables(db: Database) -> bool:
    with db.read_engine.connect() as conn:
        if db.is_sqlite:
            count = conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type='table'")).scalar()
        else:
            count = conn.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")
            ).scalar()
    return bool(count)


def alembic_config(db: Database, connection=None):
    from alembic.config import Config

    config = Config(stdout=sys.stdout)  # the default is bound when alembic is first imported
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(stdout=sys.stdout)  # the default is bound when alembic is first imported
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


@contextmanager
def migration_lock(db: Database) -> Iterator[None]:
    """One migrator at a time: a file lock beside the SQLite file, an advisory lock on PostgreSQL."""
    if db.is_sqlite and db.path is not None:
        lock_path = db.path.with_name(db.path.name + ".migrate.lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    elif not db.is_sqlite:
        with db.write_engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
    else:
        yield


def backup_sqlite(db: Database, destination: Path) -> Path:
    """A consistent online copy of an SQLite database (the backup API; writers may go on)."""
    if db.path is None:
        raise DatabaseError("backup: only an SQLite file can be copied this way; use pg_dump")
    destination = Path(destination).expanduser()
    if destination.exists():
        raise DatabaseError(f"backup: {destination} exists already")
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(destination, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    os.close(fd)
    source = sqlite3.connect(db.path, timeout=10)
    target = sqlite3.connect(destination)
    try:
        with target:
            source.backup(target)
        # A single-file copy: readable by any SQLite tool without its WAL.
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
        source.close()
    return destination


def ensure_schema(db: Database, *, backup: bool = True) -> str | None:
    """Migrate to head if needed. Returns the backup path when one was made.

    Raises DatabaseError (a message for people) when the database cannot be read, is of a newer
    version, or the migration failed.
    """
    try:
        return _ensure_schema(db, backup)
    except DatabaseError:
        raise
    except SQLAlchemyError as error:
        raise DatabaseError(
            f"cannot use {db.display_name} as a crm-tui database: {getattr(error, 'orig', None) or error}"
        ) from error


def _ensure_schema(db: Database, backup: bool) -> str | None:
    revision = current_revision(db)
    if revision == HEAD_REVISION:
        return None
    backup_path: Path | None = None
    with migration_lock(db):
        revision = current_revision(db)  # somebody may have migrated while we waited
        if revision == HEAD_REVISION:
            return None
        _refuse_unknown(revision)
        if revision is None and db.is_sqlite and _has_tables(db):
            # Somebody else's SQLite file: never add our tables to it.
            raise DatabaseError(
                f"{db.display_name} is not a crm-tui database: it has tables but no schema revision"
            )
        if backup and db.is_sqlite and db.path is not None and _has_tables(db):
            stamp = clock.now().strftime("%Y%m%dT%H%M%S")
            backup_path = db.path.with_name(f"{db.path.name}.before-{revision or 'none'}-{stamp}.bak")
            backup_sqlite(db, backup_path)
            log.info("backed up %s to %s before migrating", db.path, backup_path)
        try:
            upgrade(db, "head")
        except SQLAlchemyError as error:
            # Every step runs in one transaction: a failed migration leaves the schema as it was.
            kept = f"; a copy from before is at {backup_path}" if backup_path else ""
            raise DatabaseError(
                f"{db.display_name}: updating the schema from {revision or 'empty'} to "
                f"{HEAD_REVISION} failed, nothing was changed{kept}: {getattr(error, 'orig', error)}"
            ) from error
    return str(backup_path) if backup_path else None


def _refuse_unknown(revision: str | None) -> None:
    if revision is None:
        return
    known = {p.stem for p in (MIGRATIONS_DIR / "versions").glob("*.py") if not p.name.startswith("_")}
    if revision not in known:
        raise DatabaseError(
            f"the database is at schema {revision!r}, which this crm-tui does not know: "
            "it was written by a newer version"
        )


def upgrade(db: Database, target: str = "head") -> None:
    """Run Alembic's upgrade on one connection, foreign keys off for SQLite table rebuilds."""
    from alembic import command

    with db.write_engine.connect() as conn:
        if not db.is_sqlite:
            command.upgrade(alembic_config(db, conn), target)
            conn.commit()
            return
        # Batch migrations copy and drop tables; with foreign keys on, the drop would
        # cascade. The pragma only works outside a transaction, hence the raw connection.
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            command.upgrade(alembic_config(db, conn), target)
            conn.commit()
            problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            conn.rollback()
        finally:
            # This connection goes back to the pool: it must enforce foreign keys again,
            # also when the migration failed.
            if conn.in_transaction():
                conn.rollback()
            raw.execute("PRAGMA foreign_keys = ON")
        if problems:
            raise DatabaseError(f"migration left {len(problems)} broken references")
