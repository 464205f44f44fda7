"""Activities as iCalendar: parsed back with `icalendar`, UIDs stable across two exports, events
for timed activities and tasks for the others, statuses and alarms (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from icalendar import Calendar

from crm_tui.models import Activity, ActivityType, Contact, Opportunity, Pipeline, Stage
from crm_tui.services.activities import compute_remind_at
from crm_tui.services.ical import uid_domain, write_ics

NOW = "2026-11-23T10:00:00+01:00"


@pytest.fixture
def calendar_data(db, people, frozen_now):
    frozen_now(NOW)
    anna, ben = people["anna"], people["ben"]
    with db.write() as s:
        meeting = ActivityType(name="Meeting", category="meeting")
        todo = ActivityType(name="Angebot schicken", category="todo")
        s.add_all([meeting, todo])
        contact = Contact(name="Nowak", first_name="Jan", company="Nowak Sp. z o.o.",
                          phone="+48 58 123 45 67", email="jan@nowak.example")
        s.add(contact)
        pipeline = Pipeline(name="Sales")
        s.add(pipeline)
        s.flush()
        stage = Stage(pipeline_id=pipeline.id, name="A", probability=10)
        s.add(stage)
        s.flush()
        deal = Opportunity(title="Büro Danzig", contact_id=contact.id, pipeline_id=pipeline.id,
                           stage_id=stage.id)
        s.add(deal)
        s.flush()

        def add(kind, due, at=None, user=anna, status="planned", reminder=None, **extra):
            activity = Activity(
                type_id=kind.id, contact_id=contact.id, opportunity_id=deal.id, due_date=due,
                due_time=at, assigned_user_id=user.id, status=status, reminder_minutes=reminder,
                remind_at=compute_remind_at(due, at, reminder, user.timezone, 9), **extra)
            s.add(activity)
            s.flush()
            return activity.id

        ids = {
            # anna is in Europe/Warsaw: 14:30 there is 13:30 UTC
            "meeting": add(meeting, date(2026, 11, 25), time(14, 30), reminder=15,
                           summary="Besichtigung", place="Gdańsk, ul. Długa 1", note="Schlüssel\nmitbringen",
                           priority=3),
            "task": add(todo, date(2026, 11, 24), reminder=60, summary="Preise; Rabatt, Skonto"),
            "done": add(todo, date(2026, 11, 20), status="done",
                        done_at=datetime(2026, 11, 20, 15, tzinfo=UTC), feedback="verschickt"),
            "cancelled": add(meeting, date(2026, 11, 26), time(9, 0), status="cancelled"),
            "bens": add(todo, date(2026, 11, 27), user=ben),
        }
    return {"db": db, "anna": anna, "ids": ids}


def export(data, **options) -> tuple[Calendar, str]:
    db = data["db"]
    with db.write() as session:
        domain = uid_domain(session)
    out = io.StringIO(newline="")
    with db.read() as session:
        result = write_ics(session, data["anna"], out, domain=domain, **options)
    text = out.getvalue()
    calendar = Calendar.from_ical(text)
    assert result.count == len(calendar.walk("VEVENT")) + len(calendar.walk("VTODO"))
    return calendar, text


def by_uid(calendar: Calendar) -> dict[str, object]:
    return {str(c["UID"]): c for c in calendar.walk() if c.name in ("VEVENT", "VTODO")}


def test_valid_calendar_with_events_and_tasks(calendar_data):
    calendar, text = export(calendar_data)
    assert calendar["VERSION"] == "2.0" and "crm-tui" in str(calendar["PRODID"])
    assert "\r\n" in text and all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    items = by_uid(calendar)
    ids = calendar_data["ids"]
    uid = next(u for u in items if u.startswith(f"activity-{ids['meeting']}@"))
    meeting = items[uid]
    assert meeting.name == "VEVENT"
    assert meeting.decoded("DTSTART") == datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
    assert meeting.decoded("DURATION") == timedelta(hours=1)
    assert str(meeting["SUMMARY"]) == "Meeting: Besichtigung · Jan Nowak"
    assert str(meeting["LOCATION"]) == "Gdańsk, ul. Długa 1"
    description = str(meeting["DESCRIPTION"])
    assert description.startswith("Schlüssel\nmitbringen\n")
    assert "Phone: +48 58 123 45 67" in description and "Opportunity: Büro Danzig" in description
    assert str(meeting["STATUS"]) == "CONFIRMED" and int(meeting["PRIORITY"]) == 1
    assert meeting.decoded("DTSTAMP") == datetime(2026, 11, 23, 9, tzinfo=UTC)
    [alarm] = meeting.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY" and alarm.decoded("TRIGGER") == timedelta(minutes=-15)

    task = items[f"activity-{ids['task']}@{uid.split('@')[1]}"]
    assert task.name == "VTODO" and task.decoded("DUE") == date(2026, 11, 24)
    assert str(task["SUMMARY"]).startswith("Angebot schicken: Preise; Rabatt, Skonto")
    assert str(task["STATUS"]) == "NEEDS-ACTION"
    [alarm] = task.walk("VALARM")  # 09:00 Warsaw (the default due hour) minus an hour, in UTC
    assert alarm.decoded("TRIGGER") == datetime(2026, 11, 24, 7, tzinfo=UTC)

    done = next(c for u, c in items.items() if u.startswith(f"activity-{ids['done']}@"))
    assert str(done["STATUS"]) == "COMPLETED" and done.decoded("COMPLETED") == datetime(2026, 11, 20, 15, tzinfo=UTC)
    assert "Feedback: verschickt" in str(done["DESCRIPTION"]) and not done.walk("VALARM")
    cancelled = next(c for u, c in items.items() if u.startswith(f"activity-{ids['cancelled']}@"))
    assert cancelled.name == "VEVENT" and str(cancelled["STATUS"]) == "CANCELLED"


def test_uids_are_stable_and_updates_raise_the_sequence(calendar_data, frozen_now):
    first, _ = export(calendar_data)
    db, ids = calendar_data["db"], calendar_data["ids"]
    frozen_now("2026-11-24T08:00:00+01:00")
    with db.write() as s:
        activity = s.get(Activity, ids["task"])
        activity.summary = "Preise geändert"
        s.add(activity)
    second, _ = export(calendar_data)
    one, two = by_uid(first), by_uid(second)
    assert set(one) == set(two) and len(one) == 5
    assert all(uid.startswith("activity-") and "@" in uid for uid in one)
    uid = next(u for u in two if u.startswith(f"activity-{ids['task']}@"))
    assert int(two[uid]["SEQUENCE"]) == int(one[uid]["SEQUENCE"]) + 1
    assert two[uid].decoded("DTSTAMP") == datetime(2026, 11, 24, 7, tzinfo=UTC)


def test_mine_since_and_tasks_as_all_day_events(calendar_data):
    ids = calendar_data["ids"]
    calendar, _ = export(calendar_data, mine=True)
    assert not any(u.startswith(f"activity-{ids['bens']}@") for u in by_uid(calendar))
    calendar, _ = export(calendar_data, since=date(2026, 11, 24))
    assert not any(u.startswith(f"activity-{ids['done']}@") for u in by_uid(calendar))
    calendar, _ = export(calendar_data, tasks="event")
    assert not calendar.walk("VTODO")
    task = next(c for u, c in by_uid(calendar).items() if u.startswith(f"activity-{ids['task']}@"))
    assert task.decoded("DTSTART") == date(2026, 11, 24) and task.decoded("DTEND") == date(2026, 11, 25)
