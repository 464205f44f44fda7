"""Schema migrations: fresh databases, upgrades with data, backups, locking, refusal of the unknown."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, select

import crm_tui.models  # noqa: F401  (registers every table)
from crm_tui.db.engine import Database, DatabaseError, open_database
from crm_tui.db.migrate import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    ensure_schema,
    script_head,
    upgrade,
)
from crm_tui.models import Contact, User

WAIT = 60.0
FIRST = "0001_initial"
NOW = "2026-11-23T10:15:00+01:00"
BACKUP_STAMP = "20261123T091500"  # NOW in UTC

CONTACTS = [
    # (first_name, name, city, search_key as the app folds it)
    ("Łukasz", "Müller", "Gdańsk", "lukasz muller mueller gdansk"),
    ("Grzegorz", "Brzęczyszczykiewicz", "Łódź", "grzegorz brzeczyszczykiewicz lodz"),
    ("", "Schröder & Söhne GmbH", "Köln", "schroder schroeder sohne soehne gmbh koln koeln"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no tables at all, on each backend."""
    if request.param == "sqlite":
        db = open_database(tmp_path / "crm.sqlite3")
    else:
        db = open_database(request.getfixturevalue("pg_database_factory")(migrated=False))
    try:
        yield db
    finally:
        db.dispose()


def _alembic_rows(db: Database) -> list[str]:
    with db.read_engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _fill_at_first_revision(db: Database) -> dict[str, int]:
    """Rows written with raw SQL by a crm-tui of schema 0001 (the models may have moved on)."""
    stamp = "2026-01-15 08:30:00"
    ids: dict[str, int] = {}
    with db.write() as session:
        session.exec(
            text(
                "INSERT INTO users (login, name, email, timezone, role, active, created_at, version) "
                "VALUES ('lmueller', 'Łukasz Müller', 'l@example.pl', 'Europe/Warsaw', 'rep', "
                ":yes, :at, 1)"
            ),
            params={"yes": True, "at": stamp},
        )
        user_id = session.exec(text("SELECT id FROM users WHERE login = 'lmueller'")).scalar()
        for first_name, name, city, key in CONTACTS:
            session.exec(
                text(
                    "INSERT INTO contacts (kind, name, first_name, company, email, phone, mobile, "
                    "phone_digits, street, postal_code, city, region, country, source, "
                    "description, expected_revenue, currency, status, assigned_user_id, "
                    "close_note, search_key, created_at, updated_at, version) VALUES "
                    "(:kind, :name, :first_name, '', '', '', '', '', '', '', :city, '', 'PL', "
                    "'fair', '', :revenue, 'EUR', 'prospect', :user_id, '', :key, :at, :at, 1)"
                ),
                params={
                    "kind": "person" if first_name else "company", "name": name,
                    "first_name": first_name, "city": city, "key": key, "at": stamp,
                    "revenue": "12345.67", "user_id": user_id,
                },
            )
            ids[name] = session.exec(
                text("SELECT id FROM contacts WHERE name = :name"), params={"name": name}
            ).scalar()
    ids["user"] = user_id
    return ids


def _assert_data_intact(db: Database, ids: dict[str, int]) -> None:
    # Only the columns of the first revision: this also runs on a database left there.
    with db.read() as session:
        user = session.exec(select(User.id, User.login, User.name, User.version)).one()
        contacts = session.exec(
            select(
                Contact.id, Contact.first_name, Contact.name, Contact.city, Contact.search_key,
                Contact.assigned_user_id, Contact.expected_revenue, Contact.created_at,
            ).order_by(Contact.id)
        ).all()
    assert tuple(user) == (ids["user"], "lmueller", "Łukasz Müller", 1)
    assert [(c.first_name, c.name, c.city, c.search_key) for c in contacts] == CONTACTS
    assert [c.id for c in contacts] == [ids[name] for _, name, _, _ in CONTACTS]
    assert {c.assigned_user_id for c in contacts} == {ids["user"]}
    assert {c.expected_revenue for c in contacts} == {Decimal("12345.67")}
    assert all(c.created_at.tzinfo is not None for c in contacts)


def _fts(db: Database, query: str) -> list[int]:
    with db.read() as session:
        return list(
            session.exec(
                text("SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH :q ORDER BY rowid"),
                params={"q": query},
            ).scalars()
        )


# -- head ------------------------------------------------------------------------------------


def test_head_revision_is_alembics_head():
    assert HEAD_REVISION == script_head()
    scripts = ScriptDirectory.from_config(alembic_config(open_database("sqlite://")))
    assert scripts.get_heads() == [HEAD_REVISION]  # one line of history, no branches
    assert [s.revision for s in scripts.walk_revisions("base", "heads")][-1] == FIRST


def test_a_fresh_database_is_migrated_to_head(empty_db: Database):
    assert current_revision(empty_db) is None
    assert ensure_schema(empty_db) is None  # nothing to back up
    assert current_revision(empty_db) == HEAD_REVISION
    assert _alembic_rows(empty_db) == [HEAD_REVISION]
    tables = set(inspect(empty_db.write_engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert ensure_schema(empty_db) is None  # already current: nothing happens
    assert _alembic_rows(empty_db) == [HEAD_REVISION]
    if empty_db.is_sqlite:
        assert not list(empty_db.path.parent.glob("*.bak"))


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # Made by hand in 0002 and unknown to the models: the FTS5 tables, the trigram index.
    return not (name or "").startswith(("contacts_fts", "ix_contacts_search_trgm"))


def test_the_models_match_the_migrated_schema(db: Database):
    with db.write_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "compare_server_default": True, "include_object": _include},
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_autogenerate_finds_nothing_to_do(db: Database):
    """`alembic check` through our env.py: it must not propose dropping the hand-made objects."""
    from alembic import command

    with db.write_engine.connect() as conn:
        command.check(alembic_config(db, conn))


# -- an older revision with data -------------------------------------------------------------


def test_upgrade_from_the_first_revision_keeps_the_data(tmp_path: Path, frozen_now):
    frozen_now(NOW)
    path = tmp_path / "crm.sqlite3"
    db = open_database(path)
    try:
        upgrade(db, FIRST)
        assert current_revision(db) == FIRST
        ids = _fill_at_first_revision(db)

        backup = ensure_schema(db)

        assert current_revision(db) == HEAD_REVISION
        _assert_data_intact(db, ids)
        with db.write() as session:  # the connection that migrated is back in the pool
            assert session.exec(text("PRAGMA foreign_keys")).scalar() == 1
            assert session.exec(text("PRAGMA foreign_key_check")).all() == []
            assert session.exec(text("PRAGMA integrity_check")).scalar() == "ok"

        # The backup: beside the database, private, a single file at the old revision.
        assert backup is not None
        backup_path = Path(backup)
        assert backup_path.parent == path.parent
        assert backup_path.name == f"crm.sqlite3.before-{FIRST}-{BACKUP_STAMP}.bak"
        assert stat.S_IMODE(backup_path.stat().st_mode) == 0o600
        copy = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
        try:
            assert copy.execute("SELECT version_num FROM alembic_version").fetchall() == [(FIRST,)]
            assert copy.execute("SELECT name FROM contacts ORDER BY id").fetchall() == [
                (name,) for _, name, _, _ in CONTACTS
            ]
            assert copy.execute("SELECT name FROM users").fetchall() == [("Łukasz Müller",)]
            assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        finally:
            copy.close()
        backed_up = open_database(backup_path)
        try:
            assert current_revision(backed_up) == FIRST
        finally:
            backed_up.dispose()

        # The full-text index holds the contacts that existed before it.
        lukasz = ids["Müller"]
        assert _fts(db, "search_key:lukasz*") == [lukasz]
        assert _fts(db, "search_key:mueller") == [lukasz]
        assert _fts(db, "name:muller") == [lukasz]  # diacritics folded by the tokenizer
        assert _fts(db, "search_key:lodz") == [ids["Brzęczyszczykiewicz"]]
        assert _fts(db, "search_key:koe*") == [ids["Schröder & Söhne GmbH"]]

        # ... and follows later writes (the triggers).
        with db.write() as session:
            session.add(Contact(name="Nowak", first_name="Anna", search_key="anna nowak"))
            moved = session.get(Contact, lukasz)
            moved.search_key = "lukasz muller mueller poznan"
            session.delete(session.get(Contact, ids["Brzęczyszczykiewicz"]))
        assert len(_fts(db, "search_key:nowak")) == 1
        assert _fts(db, "search_key:poznan") == [lukasz]
        assert _fts(db, "search_key:gdansk") == []
        assert _fts(db, "search_key:lodz") == []
    finally:
        db.dispose()


@pytest.mark.postgres
def test_upgrade_from_the_first_revision_on_postgres(pg_database_factory):
    db = open_database(pg_database_factory(migrated=False))
    try:
        upgrade(db, FIRST)
        ids = _fill_at_first_revision(db)
        assert ensure_schema(db) is None  # no file to copy: PostgreSQL is backed up with pg_dump
        assert current_revision(db) == HEAD_REVISION
        _assert_data_intact(db, ids)
        with db.read() as session:
            index = session.exec(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_contacts_search_trgm'")
            ).scalar()
            found = session.exec(
                text("SELECT id FROM contacts WHERE search_key LIKE :q"), params={"q": "%lukasz%"}
            ).all()
        assert index is not None and "search_key" in index
        assert [row[0] for row in found] == [ids["Müller"]]
    finally:
        db.dispose()


def test_a_failed_migration_changes_nothing(tmp_path: Path, frozen_now):
    """0002 cannot create its FTS table (a stray one is in the way): all of it is rolled back."""
    frozen_now(NOW)
    db = open_database(tmp_path / "crm.sqlite3")
    try:
        upgrade(db, FIRST)
        ids = _fill_at_first_revision(db)
        with db.write() as session:
            session.exec(text("CREATE TABLE contacts_fts (x INTEGER)"))
        with pytest.raises(DatabaseError, match="nothing was changed") as failure:
            ensure_schema(db)
        assert ".bak" in str(failure.value)  # it tells where the copy is
        assert current_revision(db) == FIRST
        with db.read() as session:
            assert session.exec(text("SELECT count(*) FROM contacts")).scalar() == len(CONTACTS)
        with db.write() as session:
            assert session.exec(text("PRAGMA foreign_keys")).scalar() == 1
            triggers = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
            assert session.exec(text(triggers)).scalar() == 0
        _assert_data_intact(db, ids)
    finally:
        db.dispose()


# -- refusing what we don't know -------------------------------------------------------------


def test_an_unknown_revision_is_refused(db: Database):
    with db.write() as session:
        session.exec(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with pytest.raises(DatabaseError, match="0099_from_the_future.*newer version"):
        ensure_schema(db)
    assert current_revision(db) == "0099_from_the_future"  # untouched
    if db.is_sqlite:
        assert not list(db.path.parent.glob("*.bak"))


def test_a_file_that_is_no_database_is_refused(tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some notes\n" * 100)
    db = open_database(path)
    try:
        with pytest.raises(DatabaseError, match="cannot use .*notes.txt.*not a database"):
            ensure_schema(db)
    finally:
        db.dispose()
    assert path.read_text().startswith("not a database")


def test_somebody_elses_sqlite_file_is_left_alone(tmp_path: Path):
    path = tmp_path / "other.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, title TEXT)")
    other.commit()
    other.close()
    db = open_database(path)
    try:
        with pytest.raises(DatabaseError, match="not a crm-tui database"):
            ensure_schema(db)
        assert current_revision(db) is None
        assert inspect(db.write_engine).get_table_names() == ["recipes"]
    finally:
        db.dispose()
    assert not list(tmp_path.glob("*.bak"))


def test_an_unreachable_server_is_reported_not_migrated():
    pytest.importorskip("psycopg")
    db = open_database("postgresql+psycopg://crm@127.0.0.1:1/nowhere?connect_timeout=2")
    try:
        with pytest.raises(DatabaseError, match="cannot use postgresql"):
            ensure_schema(db)
    finally:
        db.dispose()


# -- concurrency -----------------------------------------------------------------------------

_MIGRATE_IN_A_CHILD = textwrap.dedent(
    """
    import os, sys
    from crm_tui.db import migrate
    from crm_tui.db.engine import open_database

    path, log = sys.argv[1], sys.argv[2]
    original = migrate.upgrade

    def counted(db, target="head"):
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\\n")
        return original(db, target)

    migrate.upgrade = counted
    import alembic.command  # noqa: F401  (imported before the start line: a fair race)

    db = open_database(path)
    print("ready", flush=True)
    sys.stdin.readline()
    backup = migrate.ensure_schema(db)
    print("done", migrate.current_revision(db), backup, flush=True)
    db.dispose()
    """
)


def test_two_programs_migrating_at_once(tmp_path: Path):
    path = tmp_path / "crm.sqlite3"
    open_database(path).dispose()  # an empty file, as a first start leaves it
    assert path.stat().st_size == 0
    log = tmp_path / "upgrades.log"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_IN_A_CHILD, str(path), str(log)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    try:
        with ThreadPoolExecutor(2) as pool:  # both ready, then both go
            ready = [pool.submit(child.stdout.readline) for child in children]
            assert [r.result(timeout=WAIT).strip() for r in ready] == ["ready", "ready"]
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        outcomes = [child.communicate(timeout=WAIT) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (out, err) in zip(children, outcomes, strict=True):
        assert child.returncode == 0, err
        assert out.strip() == f"done {HEAD_REVISION} None"
    assert len(log.read_text().splitlines()) == 1  # migrated once; the other waited and saw it

    db = open_database(path)
    try:
        assert _alembic_rows(db) == [HEAD_REVISION]
        assert set(SQLModel.metadata.tables) <= set(inspect(db.write_engine).get_table_names())
    finally:
        db.dispose()


@pytest.mark.postgres
def test_two_migrators_at_once_on_postgres(pg_database_factory):
    url = pg_database_factory(migrated=False)
    dbs = [open_database(url) for _ in range(2)]
    start = threading.Barrier(2)

    def migrate(db: Database):
        start.wait(WAIT)
        return ensure_schema(db)

    try:
        with ThreadPoolExecutor(2) as pool:
            results = [f.result(timeout=WAIT) for f in [pool.submit(migrate, db) for db in dbs]]
        assert results == [None, None]
        assert _alembic_rows(dbs[0]) == [HEAD_REVISION]
    finally:
        for db in dbs:
            db.dispose()


def test_a_current_schema_is_checked_without_loading_alembic(sqlite_db: Database):
    script = textwrap.dedent(
        """
        import sys
        from crm_tui.db.engine import open_database
        from crm_tui.db.migrate import ensure_schema
        db = open_database(sys.argv[1])
        assert ensure_schema(db) is None
        db.dispose()
        print(sorted(m for m in sys.modules if m.split(".")[0] == "alembic"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(sqlite_db.path)],
        capture_output=True, text=True, timeout=WAIT, env=dict(os.environ), check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
