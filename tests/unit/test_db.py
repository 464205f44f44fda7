"""The database layer: engines, pragmas, session scopes, locking, types (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, text
from sqlalchemy.exc import OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import select

from crm_tui.db.engine import (
    BUSY_TIMEOUT_MS,
    Database,
    DatabaseError,
    open_database,
    resolve_url,
)
from crm_tui.models import Contact, User

WAIT = 10.0
"""Upper bound for anything that should happen promptly (never reached when the code is right)."""
NOT_YET = 0.3
"""How long a blocked writer is given to (wrongly) get through before we call it blocked."""


def _pragmas(session) -> dict[str, object]:
    names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "query_only")
    return {name: session.exec(text(f"PRAGMA {name}")).scalar() for name in names}


def _count(db: Database, model) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(model)).one()


# -- SQLite pragmas and the read-only engine -------------------------------------------------


def test_sqlite_pragmas_on_write_connections(sqlite_db: Database):
    with sqlite_db.write() as session:
        pragmas = _pragmas(session)
    assert str(pragmas["journal_mode"]).lower() == "wal"
    assert pragmas["synchronous"] == 2  # FULL
    assert pragmas["foreign_keys"] == 1
    assert pragmas["busy_timeout"] == BUSY_TIMEOUT_MS == 10_000
    assert pragmas["query_only"] == 0


def test_sqlite_pragmas_on_read_connections(sqlite_db: Database):
    with sqlite_db.read() as session:
        pragmas = _pragmas(session)
    assert str(pragmas["journal_mode"]).lower() == "wal"
    assert pragmas["synchronous"] == 2
    assert pragmas["foreign_keys"] == 1
    assert pragmas["busy_timeout"] == 10_000
    assert pragmas["query_only"] == 1


def test_a_new_sqlite_file_is_put_in_wal_mode(tmp_path: Path):
    db = open_database(tmp_path / "fresh.sqlite3")
    try:
        with db.write() as session:
            session.exec(text("CREATE TABLE t (x INTEGER)"))
    finally:
        db.dispose()
    raw = sqlite3.connect(tmp_path / "fresh.sqlite3")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    finally:
        raw.close()


def test_the_read_engine_cannot_write(sqlite_db: Database):
    with sqlite_db.read() as session, pytest.raises(OperationalError, match="readonly"):
        session.exec(text("INSERT INTO meta (key, value) VALUES ('x', 'y')"))
    assert _count(sqlite_db, User) == 0


def test_foreign_keys_are_enforced(sqlite_db: Database):
    with pytest.raises(Exception, match="FOREIGN KEY"), sqlite_db.write() as session:
        session.add(Contact(name="Orphan", assigned_user_id=4242))
    assert _count(sqlite_db, Contact) == 0


# -- BEGIN IMMEDIATE: writers queue, readers go on -------------------------------------------


def test_write_takes_the_lock_at_begin(sqlite_db: Database):
    """The lock is held as soon as the write scope starts, before any statement."""
    other = sqlite3.connect(sqlite_db.path, timeout=0, isolation_level=None)
    try:
        with sqlite_db.write() as session:
            session.connection()  # the scope has begun; nothing written yet
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the scope
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_second_writer_waits_for_the_first(sqlite_db: Database):
    first_holds = threading.Event()
    first_may_commit = threading.Event()
    second_entered = threading.Event()

    def first() -> None:
        with sqlite_db.write() as session:
            session.add(User(login="first"))
            session.flush()
            first_holds.set()
            assert first_may_commit.wait(WAIT)

    def second() -> int:
        assert first_holds.wait(WAIT)
        with sqlite_db.write() as session:
            second_entered.set()
            seen = session.exec(select(func.count()).select_from(User)).one()
            session.add(User(login="second"))
        return seen

    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(first)
        two = pool.submit(second)
        try:
            assert first_holds.wait(WAIT)
            # While the first writer holds the lock the second cannot even begin.
            assert not second_entered.wait(NOT_YET)
            assert not two.done()
        finally:
            first_may_commit.set()
        one.result(timeout=WAIT)
        # It began only after the first committed, so it saw the first row.
        assert two.result(timeout=WAIT) == 1
    assert second_entered.is_set()
    with sqlite_db.read() as session:
        assert sorted(session.exec(select(User.login)).all()) == ["first", "second"]


def test_a_reader_is_not_blocked_by_an_open_writer(sqlite_db: Database):
    with sqlite_db.write() as session:
        session.add(User(login="uncommitted"))
        session.flush()
        with ThreadPoolExecutor(1) as pool:
            seen = pool.submit(_count, sqlite_db, User).result(timeout=WAIT)
        assert seen == 0  # the reader sees the last committed state, at once
    assert _count(sqlite_db, User) == 1


# -- on both backends ------------------------------------------------------------------------


def test_write_commits(db: Database):
    with db.write() as session:
        session.add(User(login="anna", name="Anna"))
    with db.read() as session:
        assert session.exec(select(User.name).where(User.login == "anna")).one() == "Anna"


def test_write_rolls_back_on_exception(db: Database):
    with pytest.raises(RuntimeError, match="boom"), db.write() as session:
        session.add(User(login="ghost"))
        session.flush()  # the row reached the database inside the transaction
        raise RuntimeError("boom")
    assert _count(db, User) == 0


def test_transact_returns_the_result_and_commits(db: Database):
    def work(session) -> int:
        user = User(login="tx")
        session.add(user)
        session.flush()
        return user.id

    user_id = db.transact(work)
    with db.read() as session:
        assert session.get(User, user_id).login == "tx"


def test_version_column_rejects_a_stale_update(db: Database):
    with db.write() as session:
        contact = Contact(name="Kowalski")
        session.add(contact)
        session.flush()
        contact_id = contact.id
    with db.read() as session:
        stale = session.get(Contact, contact_id)  # detached when the scope ends
    assert stale.version == 1

    with db.write() as session:
        fresh = session.get(Contact, contact_id)
        fresh.name = "Kowalska"
    with pytest.raises(StaleDataError), db.write() as session:
        session.add(stale)
        stale.city = "Kraków"
        session.flush()

    with db.read() as session:
        current = session.get(Contact, contact_id)
        assert (current.name, current.city, current.version) == ("Kowalska", "", 2)


def test_utc_datetimes_round_trip_aware(db: Database):
    berlin = datetime(2026, 3, 29, 3, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Berlin"))
    with db.write() as session:
        session.add(User(login="tz", created_at=berlin))
    with db.read() as session:
        stored = session.exec(select(User.created_at).where(User.login == "tz")).one()
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == berlin
    assert stored == datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)


def test_naive_datetimes_are_refused(db: Database):
    with pytest.raises(StatementError, match="naive datetime"), db.write() as session:
        session.add(User(login="naive", created_at=datetime(2026, 1, 1, 12, 0)))
        session.flush()
    assert _count(db, User) == 0


def test_defaults_use_the_frozen_clock(db: Database, frozen_now):
    moment = frozen_now("2026-11-23T09:00:00+01:00")
    with db.write() as session:
        session.add(User(login="clock"))
    with db.read() as session:
        assert session.exec(select(User.created_at)).one() == moment


@pytest.mark.parametrize(
    "amount",
    ["0.01", "0.10", "19.99", "1234567.89", "999999999999.99", "-0.01", "100000000000.01", "0"],
)
def test_money_round_trips_exactly(db: Database, amount: str):
    with db.write() as session:
        session.add(Contact(name="Money", expected_revenue=Decimal(amount)))
    with db.read() as session:
        stored = session.exec(select(Contact.expected_revenue)).one()
    assert isinstance(stored, Decimal)
    assert stored == Decimal(amount)
    assert stored.as_tuple().exponent == -2


def test_unicode_survives(db: Database):
    with db.write() as session:
        session.add(Contact(name="Müller", first_name="Łukasz", city="Gdańsk"))
    with db.read() as session:
        contact = session.exec(select(Contact)).one()
    assert (contact.first_name, contact.name, contact.city) == ("Łukasz", "Müller", "Gdańsk")


# -- files and URLs --------------------------------------------------------------------------


def test_new_sqlite_file_is_private(tmp_path: Path):
    path = tmp_path / "nested" / "dir" / "crm.sqlite3"
    db = open_database(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with db.write() as session:
            session.exec(text("CREATE TABLE t (x INTEGER)"))
            session.exec(text("INSERT INTO t VALUES (1)"))
            wal = Path(f"{path}-wal")
            if wal.exists():  # SQLite gives its side files the main file's mode
                assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        db.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_file_mode_is_left_alone(tmp_path: Path):
    path = tmp_path / "shared.sqlite3"
    path.touch(mode=0o660)
    os.chmod(path, 0o660)
    open_database(path).dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o660


def test_sqlite_db_fixture_is_migrated_and_private(sqlite_db: Database):
    from crm_tui.db.migrate import HEAD_REVISION, current_revision

    assert current_revision(sqlite_db) == HEAD_REVISION
    assert stat.S_IMODE(sqlite_db.path.stat().st_mode) == 0o600


def test_resolve_url_for_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_url(tmp_path / "a.sqlite3") == f"sqlite:///{tmp_path}/a.sqlite3"
    assert resolve_url("rel/b.sqlite3") == f"sqlite:///{tmp_path}/rel/b.sqlite3"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_url("~/c.sqlite3") == f"sqlite:///{tmp_path}/c.sqlite3"


def test_resolve_url_passes_urls_through(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRM_DB", "/elsewhere/env.sqlite3")
    url = "postgresql+psycopg://rep:s3cret@db.example:5432/crm"
    assert resolve_url(url) == url
    assert resolve_url("sqlite:////srv/crm.sqlite3") == "sqlite:////srv/crm.sqlite3"


def test_resolve_url_uses_crm_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRM_DB", str(tmp_path / "env.sqlite3"))
    assert resolve_url() == f"sqlite:///{tmp_path}/env.sqlite3"
    assert resolve_url(tmp_path / "flag.sqlite3") == f"sqlite:///{tmp_path}/flag.sqlite3"
    monkeypatch.setenv("CRM_DB", "postgresql+psycopg://crm@localhost/crm")
    assert resolve_url() == "postgresql+psycopg://crm@localhost/crm"


def test_resolve_url_default_is_under_the_xdg_data_dir():
    data_home = Path(os.environ["XDG_DATA_HOME"])
    assert "CRM_DB" not in os.environ
    assert resolve_url() == f"sqlite:///{data_home.resolve()}/crm-tui/crm.sqlite3"
    assert resolve_url("") == resolve_url()


def test_open_database_default_creates_the_file_in_the_data_dir():
    db = open_database()
    try:
        path = Path(os.environ["XDG_DATA_HOME"]).resolve() / "crm-tui" / "crm.sqlite3"
        assert db.path == path
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        db.dispose()


def test_open_database_refuses_unknown_backends():
    with pytest.raises(DatabaseError, match="unsupported"):
        open_database("mysql://crm@localhost/crm")
    with pytest.raises(DatabaseError, match="neither a file path nor a database URL"):
        open_database("not a url://x")


def test_open_database_reports_an_unwritable_folder(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DatabaseError, match="cannot create"):
        open_database(blocker / "crm.sqlite3")


@pytest.mark.postgres
def test_postgres_database_shape(pg_db: Database):
    assert not pg_db.is_sqlite
    assert pg_db.path is None
    assert pg_db.read_engine is pg_db.write_engine
    assert pg_db.display_name.startswith("postgresql+psycopg://")
    with pg_db.write() as session:
        assert session.exec(text("SHOW server_encoding")).scalar() == "UTF8"
