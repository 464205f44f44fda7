"""`crm status` and "my activities" queries use the partial index `ix_activities_open_user_due`.

`crm status` runs on every shell prompt and must stay well under 100 ms on a 1,000,000-contact
database: its count must read one user's open activities through the partial index, never scan
the table. The query plans are checked here (SQLite's EXPLAIN QUERY PLAN on the statements the
code really runs; PostgreSQL's EXPLAIN with sequential scans discouraged, which shows that the
partial index's predicate matches the query's).
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from crm_tui.commands import status as status_command
from crm_tui.models import Activity, ActivityType, Contact
from crm_tui.services.activities import list_activities, open_counts, open_counts_statement
from crm_tui.services.defaults import install_defaults

INDEX = "ix_activities_open_user"
"""`ix_activities_open_user_due` (assignee, due date, WHERE status = 'planned'), or a covering
sibling of it with `paused` as well (a proposed migration), both start like this."""


@pytest.fixture
def filled(db, people, frozen_now):
    """A few hundred activities of several users, some done, some paused."""
    frozen_now("2026-11-23T10:00:00+01:00")
    with db.write() as session:
        install_defaults(session)
        kind = session.exec(select(ActivityType.id)).first()
        contacts = [Contact(name=f"C{i}", status="customer") for i in range(50)]
        session.add_all(contacts)
        session.flush()
        users = [people[login].id for login in ("tester", "anna", "ben", "mia")]
        start = date(2026, 11, 1)
        session.add_all(
            Activity(type_id=kind, contact_id=contacts[i % 50].id, assigned_user_id=users[i % 4],
                     due_date=start + timedelta(days=i % 60), status="done" if i % 7 == 0 else "planned",
                     paused=i % 11 == 0)
            for i in range(400)
        )
    with db.write() as session:
        if db.is_sqlite:
            session.exec(text("ANALYZE"))
    return people


def _sqlite_plan(db, sql: str, params=()) -> str:
    with sqlite3.connect(db.path) as conn:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


SQLITE_ONLY = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_status_fast_path_counts_through_the_partial_index(db, filled, monkeypatch):
    """Trace the SQL `crm status` really runs on SQLite, then explain it."""
    statements: list[str] = []
    connect = sqlite3.connect

    def tracing_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", tracing_connect)
    counts = status_command._fast_counts(str(db.path), "anna")
    monkeypatch.setattr(sqlite3, "connect", connect)
    assert counts is not None, "the fast path fell back to the slow one"
    with db.read() as session:
        assert counts == open_counts(session, filled["anna"])
    [count_sql] = [s for s in statements if "FROM activities" in s]
    plan = _sqlite_plan(db, count_sql)  # the traced SQL has its values filled in
    assert INDEX in plan, plan
    assert "SCAN activities" not in plan, plan


def _explain_pg(session, statement) -> str:
    compiled = statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    session.exec(text("SET LOCAL enable_seqscan = off"))
    session.exec(text("SET LOCAL enable_bitmapscan = off"))
    return "\n".join(row[0] for row in session.exec(text(f"EXPLAIN {compiled}")).all())


def test_open_counts_uses_the_partial_index(db, filled):
    """The ORM path (PostgreSQL, and SQLite when the fast path cannot decide)."""
    anna = filled["anna"]
    if db.is_sqlite:
        seen = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            seen.append((statement, parameters))

        event.listen(db.read_engine, "before_cursor_execute", capture)
        try:
            with db.read() as session:
                open_counts(session, anna)
        finally:
            event.remove(db.read_engine, "before_cursor_execute", capture)
        [(sql, params)] = [(s, p) for s, p in seen if "FROM activities" in s]
        plan = _sqlite_plan(db, sql, params)
        assert INDEX in plan and "SCAN activities" not in plan, plan
    else:
        with db.write() as session:
            plan = _explain_pg(session, open_counts_statement(anna.id, anna.today()))
        # PostgreSQL may as well read the report's index of open activities (0006), which
        # also starts with the assignee: any partial index of the open ones, no table scan.
        assert INDEX in plan or "ix_activities_report_open" in plan, plan
        assert "Seq Scan" not in plan, plan


@SQLITE_ONLY
def test_my_activities_listing_reads_the_index_in_order(db, filled):
    """`crm activities list --mine`: the index gives the rows in due order, no sort step."""
    anna = filled["anna"]
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.read_engine, "before_cursor_execute", capture)
    try:
        with db.read() as session:
            rows = list_activities(session, anna, mine=True, limit=10)
    finally:
        event.remove(db.read_engine, "before_cursor_execute", capture)
    assert [r.due for r in rows] == sorted(r.due for r in rows)
    [(sql, params)] = [(s, p) for s, p in seen if "FROM activities" in s]
    plan = _sqlite_plan(db, sql, params)
    assert INDEX in plan, plan
    assert "TEMP B-TREE" not in plan, plan
