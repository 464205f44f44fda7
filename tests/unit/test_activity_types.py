"""Activity types: listing the defaults, adding and editing with validation, chaining rules
(next type required, no cycle of `trigger` links), admins only. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from crm_tui.models import ActivityType, HistoryEntry
from crm_tui.services.activity_types import add_type, edit_type, get_type, list_types
from crm_tui.services.defaults import install_defaults
from crm_tui.services.errors import ConflictError, NotFound, PermissionDenied, ValidationError


@pytest.fixture
def types(db, people):
    with db.write() as session:
        install_defaults(session)
    return people


def type_count(db) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(ActivityType)).one()


def test_defaults_carry_the_seed_chain(db, types):
    with db.read() as session:
        rows = {row.name: row for row in list_types(session)}
    call, meeting, followup = rows["Anruf"], rows["Meeting"], rows["Nachfass-E-Mail"]
    assert (call.category, call.chaining, call.next_type) == ("call", "suggest", "Meeting")
    assert (call.delay_count, call.delay_unit, call.delay_from) == (3, "days", "previous_deadline")
    assert call.default_reminder_minutes == 15
    assert (meeting.chaining, meeting.next_type) == ("trigger", "Nachfass-E-Mail")
    assert (meeting.delay_count, meeting.delay_unit, meeting.delay_from) == (1, "weeks", "completion_date")
    assert followup.chaining == "none" and followup.next_type is None
    assert call.delay_text == "+3 days after deadline"
    assert meeting.delay_text == "+1 week after completion"
    assert {r.category for r in rows.values()} == {"email", "call", "meeting", "todo", "reminder", "upload"}


def test_add_with_every_field(db, types):
    with db.write() as session:
        kind = add_type(session, types["tester"], {
            "name": "Angebot nachfassen", "category": "to-do", "default_assignee": "anna",
            "default_summary": "Angebot nachfassen", "default_note": "Fragen klären",
            "default_reminder_minutes": "30", "chaining": "suggest", "next_type": "anruf",
            "delay_count": "2", "delay_unit": "w", "delay_from": "completion",
        })
        row = get_type(session, kind.id)
    assert row.category == "todo"
    assert row.default_assignee == "anna"
    assert row.default_reminder_minutes == 30
    assert (row.chaining, row.next_type) == ("suggest", "Anruf")
    assert (row.delay_count, row.delay_unit, row.delay_from) == (2, "weeks", "completion_date")
    with db.read() as session:
        entry = session.exec(select(HistoryEntry).where(HistoryEntry.action == "create")).one()
    assert entry.subject == "activity type Angebot nachfassen"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "", "category": "call"}, "name"),
        ({"name": "anruf", "category": "call"}, "name"),  # taken, case-insensitively
        ({"name": "X", "category": "fax"}, "category"),
        ({"name": "X"}, "category"),
        ({"name": "X", "category": "call", "chaining": "sometimes"}, "chaining"),
        ({"name": "X", "category": "call", "chaining": "suggest"}, "next_type"),
        ({"name": "X", "category": "call", "chaining": "trigger", "next_type": "Nope"}, "next_type"),
        ({"name": "X", "category": "call", "delay_count": "-1"}, "delay_count"),
        ({"name": "X", "category": "call", "delay_count": "soon"}, "delay_count"),
        ({"name": "X", "category": "call", "delay_unit": "years"}, "delay_unit"),
        ({"name": "X", "category": "call", "delay_from": "whenever"}, "delay_from"),
        ({"name": "X", "category": "call", "default_assignee": "ghost"}, "default_assignee"),
        ({"name": "X", "category": "call", "default_reminder_minutes": "-5"}, "default_reminder_minutes"),
        ({"name": "X", "category": "call", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(db, types, values, field):
    before = type_count(db)
    with pytest.raises(ValidationError) as caught, db.write() as session:
        add_type(session, types["tester"], values)
    assert caught.value.field == field
    assert type_count(db) == before


def test_only_admins_change_types(db, types):
    before = type_count(db)
    with pytest.raises(PermissionDenied, match="only an admin"), db.write() as session:
        add_type(session, types["mia"], {"name": "X", "category": "call"})
    with pytest.raises(PermissionDenied), db.write() as session:
        edit_type(session, types["anna"], "Anruf", {"chaining": "none"})
    assert type_count(db) == before
    with db.read() as session:  # everybody lists them
        assert len(list_types(session)) == before


def test_trigger_to_itself_is_refused_but_suggest_is_fine(db, types):
    with pytest.raises(ValidationError) as caught, db.write() as session:
        edit_type(session, types["tester"], "Zu erledigen",
                  {"chaining": "trigger", "next_type": "Zu erledigen"})
    assert caught.value.field == "next_type"
    assert "Zu erledigen → Zu erledigen" in caught.value.message
    with db.write() as session:
        kind = edit_type(session, types["tester"], "Zu erledigen",
                         {"chaining": "suggest", "next_type": "Zu erledigen"})
        assert kind.chaining == "suggest"


def test_a_cycle_of_trigger_links_is_refused(db, types):
    tester = types["tester"]
    # Meeting triggers Nachfass-E-Mail; closing the loop with a trigger back would never end.
    with pytest.raises(ValidationError) as caught, db.write() as session:
        edit_type(session, tester, "Nachfass-E-Mail", {"chaining": "trigger", "next_type": "Meeting"})
    assert caught.value.message.startswith("Nachfass-E-Mail → Meeting → Nachfass-E-Mail would trigger")
    # A longer loop, closed by the edited type.
    with db.write() as session:
        edit_type(session, tester, "Nachfass-E-Mail", {"chaining": "trigger", "next_type": "Zu erledigen"})
    with pytest.raises(ValidationError, match="Zu erledigen → Meeting → Nachfass-E-Mail → Zu erledigen"), \
            db.write() as session:
        edit_type(session, tester, "Zu erledigen", {"chaining": "trigger", "next_type": "Meeting"})
    # One `suggest` link in the loop: the rep confirms each round, so it ends when they stop.
    with db.write() as session:
        edit_type(session, tester, "Zu erledigen", {"chaining": "suggest", "next_type": "Meeting"})
    # ... and turning that link into a trigger later is refused again.
    with pytest.raises(ValidationError), db.write() as session:
        edit_type(session, tester, "Zu erledigen", {"chaining": "trigger"})


def test_chaining_none_needs_no_next_type_and_clearing_it_is_refused_when_chaining(db, types):
    with db.write() as session:
        kind = edit_type(session, types["tester"], "Anruf", {"chaining": "none"})
        assert kind.chaining == "none"
    with pytest.raises(ValidationError) as caught, db.write() as session:
        edit_type(session, types["tester"], "Meeting", {"next_type": ""})
    assert caught.value.field == "next_type"


def test_edit_records_history_and_bumps_version(db, types):
    with db.write() as session:
        before = get_type(session, "Anruf").version
        edit_type(session, types["tester"], "Anruf", {"delay_count": 5, "delay_unit": "weeks"},
                  expected_version=before)
    with db.read() as session:
        row = get_type(session, "Anruf")
        changes = session.exec(
            select(HistoryEntry.field, HistoryEntry.old_value, HistoryEntry.new_value)
            .where(HistoryEntry.subject == "activity type Anruf").order_by(HistoryEntry.field)
        ).all()
    assert row.version == before + 1
    assert (row.delay_count, row.delay_unit) == (5, "weeks")
    assert changes == [("delay_count", "3", "5"), ("delay_unit", "days", "weeks")]


def test_stale_edit_is_a_conflict(db, types):
    with db.write() as session:
        version = get_type(session, "Anruf").version
        edit_type(session, types["tester"], "Anruf", {"default_summary": "Kurz anrufen"})
    with pytest.raises(ConflictError), db.write() as session:
        edit_type(session, types["tester"], "Anruf", {"default_summary": "Lang anrufen"},
                  expected_version=version)
    with db.read() as session:
        assert get_type(session, "Anruf").default_summary == "Kurz anrufen"


def test_rename_keeps_names_unique_and_unknown_type_is_not_found(db, types):
    with pytest.raises(ValidationError, match="already an activity type named"), db.write() as session:
        edit_type(session, types["tester"], "Anruf", {"name": "MEETING"})
    with db.write() as session:
        edit_type(session, types["tester"], "Anruf", {"name": "Anruf"})  # its own name: fine
    with pytest.raises(NotFound), db.read() as session:
        get_type(session, "Telex")


def test_inactive_types_can_be_left_out(db, types):
    with db.write() as session:
        edit_type(session, types["tester"], "Erinnerung", {"active": "no"})
    with db.read() as session:
        names = [row.name for row in list_types(session, include_inactive=False)]
        everything = [row.name for row in list_types(session)]
    assert "Erinnerung" not in names and "Erinnerung" in everything
