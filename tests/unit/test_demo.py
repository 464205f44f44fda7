"""`crm demo`: reproducible, consistent generated data (users, contacts, opportunities, activities)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text
from sqlmodel import select

from crm_tui.db.engine import open_database
from crm_tui.db.migrate import ensure_schema
from crm_tui.models import Contact, Team, User
from crm_tui.services import demo
from crm_tui.services.contacts import DERIVED_SOURCES, derived_values
from crm_tui.services.demo import generate_demo
from crm_tui.services.errors import ValidationError

NOW = "2026-11-23T10:00:00+01:00"
TODAY = "2026-11-23"  # the UTC date of NOW, and the date in Berlin, Warsaw and London
CONTACTS = 1500


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRM_NOW", NOW)


def _new_db(path):
    db = open_database(path)
    ensure_schema(db, backup=False)
    return db


@pytest.fixture
def demo_db(tmp_path):
    db = _new_db(tmp_path / "demo.sqlite3")
    summary = generate_demo(db, CONTACTS, seed=7, acting_login="tester")
    yield db, summary
    db.dispose()


def _raw(db) -> sqlite3.Connection:
    return sqlite3.connect(db.path)


def _dump(db, tables=("users", "teams", "team_members", "contacts", "opportunities", "activities", "history")):
    with _raw(db) as connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in tables
        }


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    first, second, other = (_new_db(tmp_path / f"{name}.sqlite3") for name in ("a", "b", "c"))
    for db, seed in ((first, 3), (second, 3), (other, 4)):
        generate_demo(db, 400, seed=seed, acting_login="tester")

    assert _dump(first) == _dump(second)
    assert _dump(first)["contacts"] != _dump(other)["contacts"]


def test_rows_made_in_a_second_process_are_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "CHUNK_CONTACTS", 150)
    here, there = _new_db(tmp_path / "here.sqlite3"), _new_db(tmp_path / "there.sqlite3")
    generate_demo(here, 400, seed=5)
    monkeypatch.setattr(demo, "SEPARATE_PROCESS_FROM", 1)
    generate_demo(there, 400, seed=5)

    assert _dump(here) == _dump(there)


def test_counts_team_and_acting_user(demo_db):
    db, summary = demo_db
    with _raw(db) as connection:
        count = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("contacts", "opportunities", "activities", "history")
        }
    assert (summary.contacts, summary.opportunities, summary.activities, summary.history) == (
        count["contacts"], count["opportunities"], count["activities"], count["history"],
    )
    assert count["contacts"] == CONTACTS
    assert 0.2 < count["opportunities"] / CONTACTS < 0.45
    assert 2.5 < count["activities"] / CONTACTS < 3.5
    assert 0 < count["history"] < CONTACTS

    with db.read() as session:
        users = {u.login: u for u in session.exec(select(User)).all()}
        teams = set(session.exec(select(Team.name)).all())
    assert teams == {"Nord", "Süd"}
    assert users["tester"].role == "admin"
    assert {u.role for u in users.values()} == {"rep", "manager", "admin"}
    assert {u.timezone for u in users.values()} >= {"Europe/Berlin", "Europe/Warsaw", "Europe/London"}
    assert summary.users_created == len(users) and "tester" in summary.users


def test_every_activity_state_is_there(demo_db):
    db, _ = demo_db
    with _raw(db) as connection:
        open_dues = connection.execute(
            "SELECT sum(due_date < ?), sum(due_date = ?), sum(due_date > ?) "
            "FROM activities WHERE status = 'planned' AND NOT paused",
            (TODAY, TODAY, TODAY),
        ).fetchone()
        statuses = dict(connection.execute("SELECT status, count(*) FROM activities GROUP BY status"))
        paused = connection.execute("SELECT count(*) FROM activities WHERE paused").fetchone()[0]
        without = connection.execute(
            "SELECT count(*) FROM contacts WHERE next_activity_due IS NULL"
        ).fetchone()[0]
        categories = connection.execute(
            "SELECT count(DISTINCT t.category) FROM activities a JOIN activity_types t ON t.id = a.type_id"
        ).fetchone()[0]
    assert all(n > 0 for n in open_dues), "overdue, today and planned activities"
    assert without > 0, "contacts without an open activity (grey)"
    assert set(statuses) == {"planned", "done", "cancelled"} and paused > 0
    assert categories == 6


def test_next_activity_due_is_the_earliest_open_unpaused_activity(demo_db):
    db, _ = demo_db
    with _raw(db) as connection:
        wrong_contacts = connection.execute(
            "SELECT count(*) FROM contacts c WHERE c.next_activity_due IS NOT ("
            "  SELECT min(a.due_date) FROM activities a"
            "  WHERE a.contact_id = c.id AND a.status = 'planned' AND NOT a.paused)"
        ).fetchone()[0]
        wrong_opportunities = connection.execute(
            "SELECT count(*) FROM opportunities o WHERE o.next_activity_due IS NOT ("
            "  SELECT min(a.due_date) FROM activities a"
            "  WHERE a.opportunity_id = o.id AND a.status = 'planned' AND NOT a.paused)"
        ).fetchone()[0]
    assert (wrong_contacts, wrong_opportunities) == (0, 0)


def test_derived_columns_are_what_the_contact_service_computes(demo_db):
    db, _ = demo_db
    with _raw(db) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM contacts").fetchall()
    for row in rows:
        expected = derived_values({name: row[name] for name in DERIVED_SOURCES})
        assert {name: row[name] for name in expected} == expected, row["id"]


def test_database_is_consistent_and_search_finds_folded_names(demo_db):
    db, _ = demo_db
    with _raw(db) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        connection.execute("INSERT INTO contacts_fts(contacts_fts) VALUES('integrity-check')")
        lukasz = {
            row[0] for row in connection.execute("SELECT id FROM contacts WHERE first_name = 'Łukasz'")
        }
        found = {
            row[0]
            for row in connection.execute("SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH 'lukasz'")
        }
        mueller = connection.execute(
            "SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH 'mueller'"
        ).fetchone()[0]
    assert lukasz and lukasz <= found
    assert mueller > 0


def test_indexes_and_triggers_are_back_and_keep_working(tmp_path):
    db = _new_db(tmp_path / "x.sqlite3")
    schema = "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY name"
    with _raw(db) as connection:
        before = connection.execute(schema).fetchall()
        counter_before = connection.execute("SELECT value FROM meta WHERE key = 'change_counter'").fetchone()
    generate_demo(db, 300)

    with _raw(db) as connection:
        assert connection.execute(schema).fetchall() == before
        counter_after = connection.execute("SELECT value FROM meta WHERE key = 'change_counter'").fetchone()
        assert int(counter_after[0]) > int(counter_before[0])
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    with db.write() as session:
        session.add(Contact(name="Żółkiewski", first_name="Stanisław", search_key="zolkiewski stanislaw"))
    with _raw(db) as connection:
        hits = connection.execute(
            "SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH 'zolkiewski'"
        ).fetchone()[0]
    assert hits == 1
    db.dispose()


def test_customer_numbers_are_unique_and_the_sequence_moved_past_them(demo_db):
    db, _ = demo_db
    with _raw(db) as connection:
        numbers = [row[0] for row in connection.execute(
            "SELECT customer_number FROM contacts WHERE customer_number IS NOT NULL"
        )]
        next_value = connection.execute(
            "SELECT next_value FROM number_sequences WHERE name = 'Kunden'"
        ).fetchone()[0]
        customers_without = connection.execute(
            "SELECT count(*) FROM contacts WHERE status = 'customer' AND customer_number IS NULL"
        ).fetchone()[0]
    assert numbers and len(numbers) == len(set(numbers)) and customers_without == 0
    assert all(n.startswith("K-20") for n in numbers)
    assert next_value > max(int(n.rsplit("-", 1)[1]) for n in numbers)


def test_past_reminders_count_as_sent(demo_db):
    db, _ = demo_db
    with _raw(db) as connection:
        now_utc = "2026-11-23 09:00:00.000000"
        armed_in_past = connection.execute(
            "SELECT count(*) FROM activities WHERE remind_at <= ? AND reminder_queued_for IS NULL",
            (now_utc,),
        ).fetchone()[0]
        future = connection.execute(
            "SELECT count(*) FROM activities WHERE status = 'planned' AND remind_at > ? "
            "AND reminder_queued_for IS NULL",
            (now_utc,),
        ).fetchone()[0]
        without_lead = connection.execute(
            "SELECT count(*) FROM activities WHERE (remind_at IS NULL) <> (reminder_minutes IS NULL)"
        ).fetchone()[0]
    assert armed_in_past == 0 and future > 0 and without_lead == 0


def test_reminders_are_due_where_the_assignee_lives(demo_db):
    from datetime import date, time

    from crm_tui.config import get_settings
    from crm_tui.services.activities import compute_remind_at

    db, _ = demo_db
    settings = get_settings().general
    with _raw(db) as connection:
        rows = connection.execute(
            "SELECT a.due_date, a.due_time, a.reminder_minutes, u.timezone, a.remind_at "
            "FROM activities a LEFT JOIN users u ON u.id = a.assigned_user_id "
            "WHERE a.reminder_minutes IS NOT NULL"
        ).fetchall()
    assert rows
    for due, at, minutes, zone, stored in rows:
        expected = compute_remind_at(
            date.fromisoformat(due), time.fromisoformat(at) if at else None, minutes,
            zone or settings.timezone, settings.default_due_hour,
        )
        assert stored == expected.strftime("%Y-%m-%d %H:%M:%S.%f"), (due, at, minutes, zone)


def test_closed_contacts_and_lost_opportunities_have_reasons(demo_db):
    db, _ = demo_db
    with _raw(db) as connection:
        missing = connection.execute(
            "SELECT (SELECT count(*) FROM contacts WHERE status = 'closed' AND lost_reason_id IS NULL),"
            " (SELECT count(*) FROM opportunities WHERE status = 'lost' AND lost_reason_id IS NULL),"
            " (SELECT count(*) FROM opportunities WHERE status = 'won' AND probability <> 100),"
            " (SELECT count(*) FROM opportunities o JOIN stages s ON s.id = o.stage_id"
            "   WHERE s.pipeline_id <> o.pipeline_id)"
        ).fetchone()
        rotting = connection.execute(
            "SELECT count(*) FROM opportunities o JOIN stages s ON s.id = o.stage_id "
            "WHERE o.status = 'open' AND s.duration_days > 0 "
            "AND julianday(?) - julianday(o.stage_entered_at) > s.duration_days",
            (TODAY,),
        ).fetchone()[0]
    assert missing == (0, 0, 0, 0)
    assert rotting > 0


def test_a_second_run_adds_to_the_first(tmp_path):
    db = _new_db(tmp_path / "x.sqlite3")
    generate_demo(db, 200, seed=1, acting_login="tester")
    again = generate_demo(db, 200, seed=2, acting_login="tester")

    assert again.users_created == 0 and again.teams_created == 0
    with _raw(db) as connection:
        assert connection.execute("SELECT count(*) FROM contacts").fetchone()[0] == 400
        assert connection.execute("SELECT count(*) FROM users").fetchone()[0] == len(again.users)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        connection.execute("INSERT INTO contacts_fts(contacts_fts) VALUES('integrity-check')")
    db.dispose()


@pytest.mark.parametrize("contacts", [-1, "10", 2.5, True])
def test_bad_counts_are_refused_and_nothing_is_written(tmp_path, contacts):
    db = _new_db(tmp_path / "x.sqlite3")
    with pytest.raises(ValidationError) as refused:
        generate_demo(db, contacts)
    assert refused.value.field == "contacts"
    with _raw(db) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    db.dispose()


def test_progress_counts_up_to_the_total(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "CHUNK_CONTACTS", 100)
    db = _new_db(tmp_path / "x.sqlite3")
    calls: list[tuple[int, int]] = []
    generate_demo(db, 250, progress=lambda done, total: calls.append((done, total)))

    totals = {total for _done, total in calls}
    assert len(totals) == 1 and calls[-1] == (totals.pop(),) * 2
    assert [done for done, _total in calls[:3]] == [100, 200, 250]
    db.dispose()


def test_zero_contacts_still_sets_up_the_team(tmp_path):
    db = _new_db(tmp_path / "x.sqlite3")
    summary = generate_demo(db, 0, acting_login="tester")
    assert summary.contacts == 0 and summary.users_created == 8
    db.dispose()


@pytest.mark.postgres
def test_postgres_gets_the_same_kind_of_data(pg_db):
    summary = generate_demo(pg_db, 300, seed=2, acting_login="tester")

    with pg_db.read() as session:
        def scalar(sql):
            return session.connection().execute(text(sql)).scalar_one()

        assert scalar("SELECT count(*) FROM contacts") == 300
        assert scalar("SELECT count(*) FROM activities") == summary.activities
        assert scalar(
            "SELECT count(*) FROM contacts c WHERE c.next_activity_due IS DISTINCT FROM ("
            " SELECT min(a.due_date) FROM activities a"
            " WHERE a.contact_id = c.id AND a.status = 'planned' AND NOT a.paused)"
        ) == 0
        assert scalar("SELECT count(*) FROM contacts WHERE search_key = '' OR name_key = ''") == 0
    # The serial ids moved on: the application can add rows after the demo.
    with pg_db.write() as session:
        contact = Contact(name="Nach der Demo")
        session.add(contact)
        session.flush()
        assert contact.id == 301
