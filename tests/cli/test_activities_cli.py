"""`crm activities ...` and `crm types ...`: JSON keys exactly, exit codes, bad input naming the
field and writing nothing, chaining from the command line, and agreement with the screens'
queries at a frozen CRM_NOW."""

from __future__ import annotations

import sqlite3

import pytest

ACTIVITY_KEYS = {
    "id", "type", "category", "summary", "note", "contact_id", "opportunity_id", "assigned_to",
    "due", "time", "state", "status", "paused", "feedback", "previous_id",
}
NOW = "2026-11-23T10:00:00+01:00"


def rows(path, sql: str):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def activity_count(path) -> int:
    return rows(path, "SELECT count(*) FROM activities")[0][0]


@pytest.fixture
def contact(crm, frozen_now, monkeypatch):
    """A customer without an auto-planned activity; tester (the first user) is the admin."""
    frozen_now(NOW)
    monkeypatch.setenv("CRM_GENERAL_TIMEZONE", "Europe/Berlin")
    from crm_tui import config

    config.reset_settings()
    added = crm("contacts", "add", "--name", "Pan", "--status", "customer", "--no-auto-plan", "--json")
    assert added.code == 0, added.err
    return added.json["id"]


def plan(crm, contact, *options):
    result = crm("activities", "plan", "--contact", str(contact), *options, "--json")
    assert result.code == 0, result.err
    return result.json


def test_plan_prints_exactly_the_activity_keys(crm, contact):
    result = crm("activities", "plan", "--type", "Anruf", "--contact", str(contact), "--due", "+3d",
                 "--time", "14:30", "--summary", "Rückruf", "--note", "zum Angebot", "--remind", "10",
                 "--priority", "2", "--place", "Büro", "--goal", "Termin", "--json")
    assert result.code == 0, result.err
    activity = result.json
    assert set(activity) == ACTIVITY_KEYS
    assert activity == {
        "id": activity["id"], "type": "Anruf", "category": "call", "summary": "Rückruf",
        "note": "zum Angebot", "contact_id": contact, "opportunity_id": None, "assigned_to": "tester",
        "due": "2026-11-26", "time": "14:30:00", "state": "planned", "status": "planned",
        "paused": False, "feedback": "", "previous_id": None,
    }
    listed = crm("activities", "list", "--json")
    assert listed.code == 0
    assert [set(row) for row in listed.json] == [ACTIVITY_KEYS]


@pytest.mark.parametrize("due", ["32.13.2026", "someday", "2026-02-30", ""])
def test_bad_date_exits_1_naming_due_and_writes_nothing(crm, db_path, contact, due):
    before = activity_count(db_path)
    result = crm("activities", "plan", "--type", "Anruf", "--contact", str(contact), "--due", due)
    assert result.code == 1
    [line] = result.err.strip().splitlines()
    assert line.startswith("crm: due: ")
    assert activity_count(db_path) == before


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--type", "Telex"], "type"),
        (["--type", "Anruf", "--time", "25:00"], "time"),
        (["--type", "Anruf", "--assigned-to", "ghost"], "assigned_to"),
        (["--type", "Anruf", "--priority", "9"], "priority"),
        (["--type", "Anruf", "--remind", "soon"], "reminder_minutes"),
    ],
)
def test_bad_fields_exit_1_naming_the_field(crm, db_path, contact, options, field):
    before = activity_count(db_path)
    result = crm("activities", "plan", "--contact", str(contact), "--due", "today", *options)
    assert result.code == 1
    assert result.err.startswith(f"crm: {field}: ")
    assert activity_count(db_path) == before


def test_wrong_usage_exits_2(crm, contact):
    assert crm("activities", "plan", "--type", "Anruf", "--contact", str(contact)).code == 2  # no --due
    assert crm("activities", "plan", "--type", "Anruf", "--due", "today").code == 2  # no target
    assert crm("activities", "plan", "--type", "Anruf", "--contact", "1", "--opp", "1",
               "--due", "today").code == 2
    assert crm("activities", "list", "--state", "soon").code == 2
    assert crm("activities", "list", "--mine", "--assigned-to", "tester").code == 2
    assert crm("activities", "reschedule", "1").code == 2  # neither --due nor --by
    assert crm("activities", "reschedule", "--due", "today").code == 2  # no ids
    assert crm("activities", "reschedule", "1", "--overdue").code == 2
    assert crm("activities", "done", "x").code == 2


def test_unknown_contact_or_activity_exits_1(crm, contact):
    result = crm("activities", "plan", "--type", "Anruf", "--contact", "999", "--due", "today")
    assert (result.code, result.err.startswith("crm: contact_id:")) == (1, True)
    assert crm("activities", "done", "999").code == 1
    assert "activity 999 does not exist" in crm("activities", "pause", "999").err


def test_log_saves_it_as_done(crm, contact):
    result = crm("activities", "log", "--type", "meeting", "--contact", str(contact),
                 "--feedback", "kam spontan vorbei", "--json")
    assert result.code == 0, result.err
    logged = result.json
    assert (logged["status"], logged["state"], logged["due"]) == ("done", "none", "2026-11-23")
    assert logged["feedback"] == "kam spontan vorbei"
    assert crm("activities", "list", "--json").json == []
    assert [a["id"] for a in crm("activities", "list", "--status", "done", "--json").json] == [logged["id"]]


def test_done_suggest_then_next_then_trigger(crm, contact, frozen_now):
    call = plan(crm, contact, "--type", "Anruf", "--due", "today")
    suggested = crm("activities", "done", str(call["id"]), "--feedback", "erreicht", "--json")
    assert suggested.code == 0, suggested.err
    body = suggested.json
    assert set(body) == {"done", "chaining", "next", "suggested", "attachment_id"}
    assert set(body["done"]) == ACTIVITY_KEYS
    assert (body["done"]["status"], body["done"]["feedback"]) == ("done", "erreicht")
    assert body["chaining"] == "suggest" and body["next"] is None
    assert (body["suggested"]["type"], body["suggested"]["due"]) == ("Meeting", "2026-11-26")

    second = plan(crm, contact, "--type", "Anruf", "--due", "today")
    planned = crm("activities", "done", str(second["id"]), "--next", "--json").json
    meeting = planned["next"]
    assert set(meeting) == ACTIVITY_KEYS
    assert (meeting["type"], meeting["due"], meeting["previous_id"]) == ("Meeting", "2026-11-26", second["id"])

    frozen_now("2026-11-26T17:00:00+01:00")
    triggered = crm("activities", "done", str(meeting["id"]), "--json").json
    assert triggered["chaining"] == "trigger"
    assert (triggered["next"]["type"], triggered["next"]["due"]) == ("Nachfass-E-Mail", "2026-12-03")

    text = crm("activities", "done", str(triggered["next"]["id"]))
    assert text.code == 0 and text.out.startswith("done activity")
    again = crm("activities", "done", str(triggered["next"]["id"]))
    assert again.code == 1 and "already done" in again.err


def test_done_prints_the_suggestion_in_words(crm, contact):
    call = plan(crm, contact, "--type", "Anruf", "--due", "today")
    result = crm("activities", "done", str(call["id"]))
    assert result.code == 0
    assert "suggested next: Meeting: Termin on 2026-11-26" in result.out
    assert f"crm activities plan --type Meeting --contact {contact} --due 2026-11-26" in result.out


def test_done_with_a_file(crm, db_path, contact, tmp_path):
    upload = plan(crm, contact, "--type", "Dokument hochladen", "--due", "today")
    document = tmp_path / "vertrag.pdf"
    document.write_bytes(b"%PDF-1.4 test")
    result = crm("activities", "done", str(upload["id"]), "--file", str(document), "--json")
    assert result.code == 0, result.err
    [(name, mime, size, activity_id)] = rows(db_path, "SELECT filename, mime_type, size, activity_id FROM attachments")
    assert (name, mime, size, activity_id) == ("vertrag.pdf", "application/pdf", 13, upload["id"])
    assert result.json["attachment_id"] is not None

    other = plan(crm, contact, "--type", "Dokument hochladen", "--due", "today")
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as handle:
        handle.truncate(21 * 1024 * 1024)  # sparse: costs no disk
    refused = crm("activities", "done", str(other["id"]), "--file", str(huge))
    assert refused.code == 1
    assert refused.err.strip() == "crm: file: huge.bin is 21.0 MB; the limit is 20.0 MB"
    assert rows(db_path, f"SELECT status FROM activities WHERE id = {other['id']}") == [("planned",)]


def test_reschedule_pause_resume_cancel(crm, db_path, contact):
    first = plan(crm, contact, "--type", "Zu erledigen", "--due", "2026-11-20")
    second = plan(crm, contact, "--type", "Zu erledigen", "--due", "2026-11-24")
    moved = crm("activities", "reschedule", str(first["id"]), str(second["id"]), "--by", "+3d", "--json")
    assert moved.code == 0, moved.err
    assert [(a["id"], a["due"]) for a in moved.json] == [(first["id"], "2026-11-23"), (second["id"], "2026-11-27")]
    assert all(set(a) == ACTIVITY_KEYS for a in moved.json)
    back = crm("activities", "reschedule", str(second["id"]), "--by=-1w", "--json")
    assert back.json[0]["due"] == "2026-11-20" and back.json[0]["state"] == "overdue"
    to_date = crm("activities", "reschedule", str(second["id"]), "--due", "1.12.2026")
    assert to_date.code == 0 and to_date.out.startswith("rescheduled 1 activity")

    before = rows(db_path, "SELECT id, due_date FROM activities ORDER BY id")
    bad = crm("activities", "reschedule", str(first["id"]), "--due", "31.02.2026")
    assert bad.code == 1 and bad.err.startswith("crm: due: ")
    bad_shift = crm("activities", "reschedule", str(first["id"]), "--by", "soon")
    assert bad_shift.code == 1 and bad_shift.err.startswith("crm: by: ")
    assert rows(db_path, "SELECT id, due_date FROM activities ORDER BY id") == before

    paused = crm("activities", "pause", str(first["id"]), "--json").json
    assert paused[0]["paused"] is True
    assert crm("contacts", "show", str(contact), "--json").json["state"] == "planned"  # 12-01 left
    assert crm("activities", "resume", str(first["id"]), "--json").json[0]["paused"] is False
    assert crm("contacts", "show", str(contact), "--json").json["state"] == "today"
    cancelled = crm("activities", "cancel", str(first["id"]), "--reason", "erledigt sich", "--json").json
    assert (cancelled[0]["status"], cancelled[0]["state"]) == ("cancelled", "none")
    again = crm("activities", "cancel", str(first["id"]))
    assert again.code == 1 and "is cancelled" in again.err


def test_move_my_overdue_to_today(crm, contact):
    ids = [plan(crm, contact, "--type", "Zu erledigen", "--due", due)["id"]
           for due in ("2026-11-01", "2026-11-22", "2026-11-30")]
    result = crm("activities", "reschedule", "--overdue", "--json")
    assert result.code == 0, result.err
    assert [(a["id"], a["due"], a["state"]) for a in result.json] == [
        (ids[0], "2026-11-23", "today"), (ids[1], "2026-11-23", "today")]
    assert crm("activities", "reschedule", "--overdue").out.startswith("rescheduled 0 activities")


def test_list_filters_and_state(crm, contact):
    overdue = plan(crm, contact, "--type", "Anruf", "--due", "2026-11-20")
    today = plan(crm, contact, "--type", "E-Mail", "--due", "today")
    later = plan(crm, contact, "--type", "Meeting", "--due", "2026-12-01")
    listed = crm("activities", "list", "--mine", "--json").json
    assert [(a["id"], a["state"]) for a in listed] == [
        (overdue["id"], "overdue"), (today["id"], "today"), (later["id"], "planned")]
    assert [a["id"] for a in crm("activities", "list", "--state", "today", "--json").json] == [today["id"]]
    assert [a["id"] for a in crm("activities", "list", "--contact", str(contact), "--limit", "1",
                                 "--json").json] == [overdue["id"]]
    assert crm("activities", "list", "--assigned-to", "tester", "--json").json == listed
    text = crm("activities", "list")
    assert text.code == 0 and "3 activities" in text.out


def test_cli_and_screens_agree(crm, db_path, contact):
    """`crm activities list --mine --json` and the "My activities" query give the same rows."""
    for due in ("2026-11-20", "today", "2026-12-01", "+2d"):
        plan(crm, contact, "--type", "Zu erledigen", "--due", due)
    cli = crm("activities", "list", "--mine", "--json").json
    from crm_tui.db import open_database
    from crm_tui.models import User
    from crm_tui.services.agenda import my_activities
    from crm_tui.services.identity import actor_for

    database = open_database(db_path)
    try:
        with database.read() as session:
            actor = actor_for(session, session.get(User, 1))
            screen = my_activities(session, actor)
    finally:
        database.dispose()
    assert [(a["id"], a["due"], a["state"]) for a in cli] == [
        (r.id, r.due.isoformat(), r.state) for r in screen]


# -- crm types --------------------------------------------------------------------------------


TYPE_KEYS = {
    "id", "name", "category", "default_assignee", "default_summary", "default_note",
    "default_reminder_minutes", "chaining", "next_type", "next_type_id", "delay_count",
    "delay_unit", "delay_from", "active", "version",
}


def test_types_list_add_edit(crm, contact):
    listed = crm("types", "list", "--json")
    assert listed.code == 0
    assert all(set(t) == TYPE_KEYS for t in listed.json)
    call = next(t for t in listed.json if t["name"] == "Anruf")
    assert (call["chaining"], call["next_type"], call["delay_count"], call["delay_unit"]) == ("suggest", "Meeting", 3, "days")

    added = crm("types", "add", "--name", "Besichtigung", "--category", "meeting", "--summary",
                "Objekt zeigen", "--reminder", "30", "--chaining", "trigger", "--next-type",
                "Nachfass-E-Mail", "--delay", "2d", "--delay-from", "completion_date", "--json")
    assert added.code == 0, added.err
    assert (added.json["delay_count"], added.json["delay_unit"]) == (2, "days")
    assert added.json["default_summary"] == "Objekt zeigen"

    edited = crm("types", "edit", "Besichtigung", "--delay-count", "1", "--delay-unit", "weeks", "--json")
    assert edited.code == 0 and (edited.json["delay_count"], edited.json["delay_unit"]) == (1, "weeks")
    assert crm("types", "edit", "Besichtigung").code == 2  # nothing to change
    text = crm("types", "list")
    assert text.code == 0 and "Besichtigung" in text.out


def test_types_validation_and_permissions(crm, db_path, contact, monkeypatch):
    cycle = crm("types", "edit", "Nachfass-E-Mail", "--chaining", "trigger", "--next-type", "Meeting")
    assert cycle.code == 1 and cycle.err.startswith("crm: next_type: Nachfass-E-Mail → Meeting")
    missing = crm("types", "add", "--name", "X", "--category", "call", "--chaining", "suggest")
    assert missing.code == 1 and missing.err.startswith("crm: next_type: ")
    bad = crm("types", "add", "--name", "X", "--category", "fax")
    assert bad.code == 1 and bad.err.startswith("crm: category: ")
    assert rows(db_path, "SELECT count(*) FROM activity_types WHERE name = 'X'") == [(0,)]

    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO users (login, name, email, timezone, role, active, created_at, version)"
                     " VALUES ('anna', 'Anna', '', '', 'rep', 1, '2026-01-01 00:00:00', 1)")
    monkeypatch.setenv("CRM_USER", "anna")
    refused = crm("types", "edit", "Anruf", "--chaining", "none")
    assert refused.code == 1 and "only an admin" in refused.err
    assert crm("types", "list", "--json").code == 0
