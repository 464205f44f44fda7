"""The change counter for refresh polling: every table is watched; a write in another process
moves it, a read (including a program's start-up) does not. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import text
from sqlmodel import SQLModel

import crm_tui.models  # noqa: F401
from crm_tui.db.engine import Database
from crm_tui.services.conflicts import data_version
from crm_tui.workspace import open_workspace

UNWATCHED = {"meta"}


def _version(db: Database) -> int:
    with db.read() as session:
        return data_version(session)


def _crm(db: Database, *argv: str) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [sys.executable, "-m", "crm_tui", "--db", db.url, *argv],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=dict(os.environ),
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def test_every_table_but_meta_is_watched(db: Database):
    tables = {t.name for t in SQLModel.metadata.sorted_tables} - UNWATCHED
    with db.read() as session:
        if db.is_sqlite:
            rows = session.exec(text(
                "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'change_counter_%'"
            )).all()
            watched: dict[str, set[str]] = {}
            for table, name in rows:
                watched.setdefault(table, set()).add(name.rsplit("_", 1)[1])
            assert {t for t, ops in watched.items() if ops == {"insert", "update", "delete"}} == tables
        else:
            rows = session.exec(text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname LIKE 'change_counter_%' AND t.tgdeferrable AND t.tginitdeferred"
            )).all()
            assert {r[0] for r in rows} == tables


def test_another_process_writing_moves_the_counter_and_reading_does_not(db: Database):
    workspace = open_workspace(db.url, "tester")  # defaults and the first user, as `crm` would
    workspace.close()
    start = _version(db)
    _crm(db, "contacts", "list", "--json")
    assert _version(db) == start, "a read-only command moved the change counter"
    _crm(db, "contacts", "add", "--name", "Nowak", "--status", "customer", "--no-auto-plan")
    assert _version(db) > start


def test_a_noop_write_transaction_does_not_move_it(db: Database):
    start = _version(db)
    with db.write() as session:
        session.exec(text("UPDATE contacts SET city = 'x' WHERE id = -1"))
    assert _version(db) == start
    with db.write() as session:
        session.exec(text("INSERT INTO lost_reasons (name, active) VALUES ('Zu teuer', :t)").bindparams(t=True))
        session.exec(text("INSERT INTO lost_reasons (name, active) VALUES ('Zu spät', :t)").bindparams(t=True))
    moved = _version(db) - start
    # SQLite counts rows, PostgreSQL transactions: either way it moved
    assert moved == (2 if db.is_sqlite else 1)
