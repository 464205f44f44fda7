"""The hot queries read through indexes: `EXPLAIN QUERY PLAN` on a 10,000-contact demo database.

A guard for issue 8 (a million contacts): plans, not times, so it never flakes. Each hot service
call runs with its SQL captured; every SELECT/UPDATE it sent is explained with the same
parameters, and no step may read a big table (contacts, activities, opportunities) without an
index (`SCAN contacts`). The sorted contact list and the board's card windows must also come out
of their index in order (no `USE TEMP B-TREE FOR ORDER BY`), which is what lets a window at any
offset cost what its rows cost (`services.windows`).

`benchmarks/run.py` measures the times; `benchmarks/RESULTS.md` has them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from crm_tui import config
from crm_tui.db.engine import Database, open_database
from crm_tui.db.migrate import ensure_schema

NOW = "2026-11-23T10:00:00+01:00"
CONTACTS = 10_000
BIG_TABLES = ("contacts", "activities", "opportunities")
FULL_SCAN = re.compile(rf"^SCAN ({'|'.join(BIG_TABLES)})(?: AS \w+)?$")
SORTED_IN_MEMORY = "USE TEMP B-TREE FOR ORDER BY"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    from crm_tui.services.demo import generate_demo

    folder = tmp_path_factory.mktemp("plans")
    path = folder / "demo.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRM_NOW", NOW)
        patch.setenv("CRM_CONFIG", str(folder / "absent.toml"))
        patch.setenv("CRM_GENERAL_TIMEZONE", "Europe/Berlin")
        config.reset_settings()
        db = open_database(path)
        ensure_schema(db, backup=False)
        generate_demo(db, CONTACTS, seed=1, acting_login="tester")
        _add_groups(db)
        try:
            yield db
        finally:
            db.dispose()
            config.reset_settings()


def _add_groups(db: Database) -> None:
    from sqlmodel import select

    from crm_tui.models import Contact, ContactGroup, GroupMember

    with db.write() as session:
        static = ContactGroup(name="Key accounts", number="1", kind="static", query="")
        dynamic = ContactGroup(name="Olpe prospects", number="2", kind="dynamic",
                               query="status:prospect city:Olpe")
        session.add_all([static, dynamic])
        session.flush()
        for contact_id in session.exec(select(Contact.id).order_by(Contact.id).limit(50)).all():
            session.add(GroupMember(group_id=static.id, contact_id=contact_id))


@pytest.fixture
def env(demo: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("CRM_NOW", NOW)
    monkeypatch.setenv("CRM_GENERAL_TIMEZONE", "Europe/Berlin")
    return demo


@pytest.fixture
def actor(env: Database):
    from crm_tui.services.identity import resolve_actor

    with env.write() as session:
        return resolve_actor(session, "tester")


@contextmanager
def captured(engine) -> Iterator[list[tuple[str, object]]]:
    """The statements sent through `engine` in the block, with their parameters."""
    statements: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        head = statement.lstrip().split(None, 1)[0].upper()
        if head in ("SELECT", "WITH", "UPDATE"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def plans(db: Database, statements: list[tuple[str, object]]) -> list[tuple[str, list[str]]]:
    conn = sqlite3.connect(db.path)
    try:
        return [
            (sql, [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params or ())])
            for sql, params in statements
        ]
    finally:
        conn.close()


def assert_indexed(db: Database, statements, *, ordered: bool = False, what: str = "") -> None:
    """No full scan of a big table; with `ordered`, no statement sorts rows in memory either."""
    assert statements, f"{what}: no SQL captured"
    for sql, steps in plans(db, statements):
        scans = [step for step in steps if FULL_SCAN.match(step)]
        assert not scans, f"{what}: full scan {scans} in\n{sql}\nplan: {steps}"
        if ordered and "ORDER BY" in sql:
            assert SORTED_IN_MEMORY not in steps, f"{what}: sorts in memory\n{sql}\nplan: {steps}"


def read(db: Database, work: Callable) -> list[tuple[str, object]]:
    with captured(db.read_engine) as statements, db.read() as session:
        work(session)
    return statements


# -- the contact list ------------------------------------------------------------------------

SORTS = ("name", "company", "city", "status", "created", "number", "due")


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort", SORTS)
def test_list_windows_come_from_the_sort_index(env, actor, monkeypatch, sort, descending):
    from crm_tui.services import windows
    from crm_tui.services.contacts import count_contacts, list_contacts
    from crm_tui.services.query import Filter

    monkeypatch.setattr(windows, "STEP", 1000)  # deep windows use the keyset seek at 10k too
    windows.forget_all()
    total = read_count(env, lambda s: count_contacts(s, actor, Filter()))
    for offset in (0, 1500, total - 30):
        statements = read(env, lambda s, o=offset: list_contacts(
            s, actor, Filter(), sort=sort, descending=descending, offset=o, limit=60))
        assert_indexed(env, statements, ordered=True, what=f"{sort} at {offset}")
    windows.forget_all()


def read_count(db: Database, work: Callable) -> int:
    with db.read() as session:
        return work(session)


def test_the_default_count_reads_an_index(env, actor):
    from crm_tui.services.contacts import count_contacts
    from crm_tui.services.query import Filter

    assert_indexed(env, read(env, lambda s: count_contacts(s, actor, Filter())), what="count")


FILTERS = (
    "status:prospect", "status:customer,inbox", "assigned:@me", "assigned:anna.schmidt",
    "team:Nord", "city:Olpe", "city:olpe", "country:Polska", "source:Messe",
    "created:>2025-06-01", "contacted:2026-01..2026-03", "state:overdue", "state:today",
    "state:none", 'group:"Key accounts"', 'group:"Olpe prospects"',
)


@pytest.mark.parametrize("query", FILTERS)
def test_filtered_lists_and_counts_use_indexes(env, actor, query):
    from crm_tui.services.contacts import count_contacts, list_contacts
    from crm_tui.services.query import parse

    filt = parse(query, actor.today())
    statements = read(env, lambda s: (list_contacts(s, actor, filt, limit=60),
                                      count_contacts(s, actor, filt)))
    assert_indexed(env, statements, what=query)


@pytest.mark.parametrize("sort", SORTS)
def test_a_status_filter_is_read_in_the_order_of_any_sort(env, actor, monkeypatch, sort):
    from crm_tui.services import windows
    from crm_tui.services.contacts import list_contacts
    from crm_tui.services.query import parse

    monkeypatch.setattr(windows, "STEP", 1000)
    windows.forget_all()
    filt = parse("status:prospect,customer", actor.today())
    for offset in (0, 2500):
        statements = read(env, lambda s, o=offset: list_contacts(s, actor, filt, sort=sort,
                                                                  offset=o, limit=60))
        assert_indexed(env, statements, ordered=True, what=f"status filter by {sort}")
    windows.forget_all()


@pytest.mark.parametrize("many", [False, True], ids=["few-hits", "many-hits"])
@pytest.mark.parametrize("text", ["mü", "schmidt", "olpe", "0271"])
def test_search_reads_the_full_text_index(env, actor, monkeypatch, text, many):
    from crm_tui.services import search
    from crm_tui.services.contacts import count_contacts, list_contacts
    from crm_tui.services.query import Filter

    # Many hits: the list walks the name index and tests ids against the hits (in order).
    monkeypatch.setattr(search, "MANY_HITS", 1 if many else 10**9)
    filt = Filter(words=(text,))
    statements = read(env, lambda s: list_contacts(s, actor, filt, limit=60))
    assert_indexed(env, statements, ordered=many, what=f"search {text!r}")
    assert any("contacts_fts MATCH" in sql for sql, _ in statements)
    assert_indexed(env, read(env, lambda s: count_contacts(s, actor, filt)), what="search count")


def test_the_first_rows_of_the_app_use_the_sort_index(env):
    from crm_tui import quick

    statements = [(quick._WINDOW, (60, 0)), (quick._WINDOW, (60, 5000)), (quick._COUNT, ())]
    assert_indexed(env, statements, what="crm_tui.quick")
    # The window's ids come from the name index in order; only its 60 rows are sorted again.
    for _sql, steps in plans(env, statements[:2]):
        assert "SCAN contacts USING COVERING INDEX ix_contacts_name_id" in steps, steps


# -- the board, activities, status, the daemon -----------------------------------------------


def test_board_summary_and_cards_read_indexes(env, actor):
    from crm_tui.services.board import board_summary, list_pipelines, stage_cards

    with env.read() as session:
        pipelines = list_pipelines(session)
    for pipeline in pipelines:
        statements = read(env, lambda s, p=pipeline: board_summary(s, actor, p.id))
        assert_indexed(env, statements, what=f"summary of {pipeline.name}")
        for stage in pipeline.stages:
            for state in (None, "overdue", "today", "planned", "none"):
                statements = read(env, lambda s, st=stage, x=state: (
                    stage_cards(s, actor, st.id, 0, 30, state=x),
                    stage_cards(s, actor, st.id, 45, 30, state=x),
                ))
                ordered = not (stage.is_won or stage.is_lost) or state is not None
                assert_indexed(env, statements, ordered=ordered, what=f"cards {stage.name} {state}")


def test_my_activities_and_the_open_counts_read_indexes(env, actor):
    from crm_tui.services.activities import open_counts
    from crm_tui.services.agenda import my_activities, my_activities_total

    statements = read(env, lambda s: (my_activities(s, actor, 0, 60),
                                      my_activities(s, actor, 300, 60),
                                      my_activities_total(s, actor),
                                      open_counts(s, actor)))
    assert_indexed(env, statements, what="my activities")


def test_the_activity_report_reads_its_partial_indexes(env, actor):
    from crm_tui.services.reports import ReportQuery, parse_period, run_report

    month = parse_period(None, None, actor.today(), "this-month")
    statements = read(env, lambda s: (
        run_report(s, actor, ReportQuery("activities", period=month)),
        run_report(s, actor, ReportQuery("activities", period=month, owner="@me")),
    ))
    assert_indexed(env, statements, what="activity report")
    counting = [steps for sql, steps in plans(env, statements) if "FROM activities" in sql]
    assert len(counting) == 4
    for steps in counting:
        assert any("ix_activities_report_" in step and "COVERING" in step for step in steps), steps


def test_crm_status_reads_the_covering_index(env):
    from crm_tui.commands import status

    calls: list[tuple[str, object]] = []
    real_connect = sqlite3.connect

    class Recording:
        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, params=()):
            calls.append((sql, params))
            return self.conn.execute(sql, params)

        def close(self):
            self.conn.close()

    def connect(*args, **kwargs):
        return Recording(real_connect(*args, **kwargs))

    sqlite3.connect = connect
    try:
        counts = status._fast_counts(str(env.path), "tester")
    finally:
        sqlite3.connect = real_connect
    assert counts is not None
    counting = [(sql, params) for sql, params in calls if "FROM activities" in sql]
    assert counting
    for _sql, steps in plans(env, counting):
        assert any("ix_activities_open_user_state" in step and "COVERING" in step for step in steps), steps


def test_the_daemon_scan_reads_only_reminders_to_send(env):
    from crm_tui import clock
    from crm_tui.services.reminders import due_reminders

    statements = read(env, lambda s: due_reminders(s, clock.now() + timedelta(days=30)))
    assert_indexed(env, statements, what="due reminders")
    scan = next(steps for sql, steps in plans(env, statements) if "remind_at" in sql)
    assert any("ix_activities_reminder_armed" in step for step in scan), scan


def test_the_outbox_claim_reads_the_pending_index(env):
    from sqlmodel import Session

    from crm_tui.services.outbox import claim_next

    session = Session(env.write_engine)
    with captured(env.write_engine) as statements:
        try:
            session.connection()
            claim_next(session, "plans-test", timedelta(minutes=5))
        finally:
            session.rollback()
            session.close()
    claim = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("UPDATE")]
    assert_indexed(env, claim, what="outbox claim")
    # Only the mails still to send are read (the partial index of pending ones, or the status
    # index searched for pending and sending), never every mail ever sent.
    steps = plans(env, claim)[0][1]
    outbox = [step for step in steps if " outbox " in f" {step} "]
    assert outbox and all(step.startswith("SEARCH outbox") for step in outbox), steps
    assert any("ix_outbox_due" in step or "(status=?)" in step for step in outbox), steps


def test_every_big_table_query_here_would_fail_a_full_scan(env):
    """The guard itself: a query that reads the whole table is caught."""
    with pytest.raises(AssertionError, match="full scan"):
        assert_indexed(env, [("SELECT count(*) FROM contacts WHERE description LIKE ?", ("%x%",))])
    path = Path(env.path)
    assert path.exists()
