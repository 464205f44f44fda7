"""Activities out to calendars: an iCalendar file (RFC 5545) written with the `icalendar` package,
for khal, calcurse, Thunderbird, Apple and Google Calendar (`crm export activities --format ics`).

Decisions:
- An activity **with a time** (a call at 10:30, a meeting at 14:00) is a **VEVENT**: DTSTART in UTC
  (the due date and time in the assignee's time zone), DURATION by category (meeting 1 h, call
  15 min, other 30 min). An activity **without a time** is a task for that day: a **VTODO** with
  DUE;VALUE=DATE -- or, with `tasks="event"`, an all-day VEVENT, for calendars that ignore
  VTODO (Google Calendar does).
- **UID** `activity-<id>@<database instance id>` (the random id `outbox.instance_id` keeps in the
  meta table): the same activity has the same UID in every export, so importing a newer file
  updates the entries instead of adding copies; two databases never clash. SEQUENCE is the
  activity's version, LAST-MODIFIED its updated_at, DTSTAMP the export moment.
- **STATUS**: a VEVENT is CONFIRMED (planned or done) or CANCELLED; a VTODO NEEDS-ACTION,
  COMPLETED (with COMPLETED: done_at) or CANCELLED. Cancelled activities are exported too, so a
  re-import cancels what was cancelled here.
- **VALARM** from the reminder lead time: a display alarm `TRIGGER:-PT<minutes>M` before a timed
  event; for a task, the absolute reminder moment the daemon mails at (`remind_at`, which counts
  from the configured default due hour).
- SUMMARY "<type>: <summary> · <contact>"; DESCRIPTION the note, the contact's phone and e-mail,
  the opportunity, goal and feedback; LOCATION the place; CATEGORIES the type and its category;
  PRIORITY 1 (highest), 5, 9 for the app's priorities 3, 2, 1.

The file is streamed in windows of activities (keyset on id), so an export of every activity of
a large database never holds them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TextIO

from icalendar import Alarm, Calendar, Event, Todo
from sqlalchemy import select
from sqlmodel import Session

from crm_tui import __version__, clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import Activity, ActivityType, Contact, Opportunity, User
from crm_tui.services.errors import ValidationError
from crm_tui.services.identity import Actor

PRODID = f"-//crm-tui//crm-tui {__version__}//EN"
WINDOW = 2000
TASK_STYLES = ("todo", "event")
DURATIONS = {"meeting": timedelta(hours=1), "call": timedelta(minutes=15)}
DEFAULT_DURATION = timedelta(minutes=30)
PRIORITIES = {3: 1, 2: 5, 1: 9}
"""The app's priority (0 none .. 3 highest) -> iCalendar PRIORITY (1 highest .. 9 lowest)."""


@dataclass(frozen=True)
class IcsExport:
    count: int
    events: int
    todos: int


def activity_uid(activity_id: int, domain: str) -> str:
    return f"activity-{activity_id}@{domain}"


def uid_domain(session: Session) -> str:
    """The database's instance id (made once, in a write session)."""
    from crm_tui.services.outbox import instance_id

    return f"{instance_id(session)}.crm-tui"


def _display(name: str, first_name: str) -> str:
    return f"{first_name} {name}" if first_name else name


def _rows(session: Session, conditions: list, window: int) -> Iterator[dict]:
    a, t, c, o = (Activity.__table__, ActivityType.__table__, Contact.__table__,
                  Opportunity.__table__)
    u = User.__table__
    columns = [
        a.c.id, a.c.summary, a.c.note, a.c.due_date, a.c.due_time, a.c.place, a.c.goal,
        a.c.priority, a.c.reminder_minutes, a.c.remind_at, a.c.status, a.c.feedback, a.c.done_at,
        a.c.created_at, a.c.updated_at, a.c.version, a.c.assigned_user_id,
        t.c.name.label("type"), t.c.category, c.c.name.label("contact_name"),
        c.c.first_name.label("contact_first_name"), c.c.company, c.c.phone, c.c.mobile, c.c.email,
        o.c.title.label("opportunity"), u.c.timezone.label("zone"), u.c.login.label("assignee"),
    ]
    last = 0
    while True:
        batch = session.execute(
            select(*columns)
            .join(t, t.c.id == a.c.type_id)
            .join(c, c.c.id == a.c.contact_id)
            .outerjoin(o, o.c.id == a.c.opportunity_id)
            .outerjoin(u, u.c.id == a.c.assigned_user_id)
            .where(a.c.id > last, *conditions)
            .order_by(a.c.id)
            .limit(window)
        ).mappings().all()
        if not batch:
            return
        yield from batch
        last = batch[-1]["id"]


def _description(row) -> str:
    lines = []
    if row["note"]:
        lines += [row["note"], ""]
    contact = _display(row["contact_name"], row["contact_first_name"])
    if row["company"] and row["company"] != row["contact_name"]:
        contact += f" ({row['company']})"
    lines.append(f"Contact: {contact}")
    for label, key in (("Phone", "phone"), ("Mobile", "mobile"), ("E-mail", "email")):
        if row[key]:
            lines.append(f"{label}: {row[key]}")
    if row["opportunity"]:
        lines.append(f"Opportunity: {row['opportunity']}")
    if row["goal"]:
        lines.append(f"Goal: {row['goal']}")
    if row["assignee"]:
        lines.append(f"Assigned to: {row['assignee']}")
    if row["feedback"]:
        lines.append(f"Feedback: {row['feedback']}")
    return "\n".join(lines)


def component_for(row, *, domain: str, stamp: datetime, default_zone: str, tasks: str = "todo"):
    """One activity (a row of `_rows`) as a VEVENT or VTODO."""
    timed = row["due_time"] is not None
    as_event = timed or tasks == "event"
    item = Event() if as_event else Todo()
    item.add("uid", activity_uid(row["id"], domain))
    item.add("dtstamp", stamp)
    item.add("created", row["created_at"])
    item.add("last-modified", row["updated_at"])
    item.add("sequence", max(int(row["version"] or 1) - 1, 0))
    summary = f"{row['type']}: {row['summary']}" if row["summary"] else row["type"]
    item.add("summary", f"{summary} · {_display(row['contact_name'], row['contact_first_name'])}")
    item.add("description", _description(row))
    if row["place"]:
        item.add("location", row["place"])
    item.add("categories", [row["type"], row["category"]])
    if PRIORITIES.get(row["priority"]):
        item.add("priority", PRIORITIES[row["priority"]])
    status = row["status"]
    due: date = row["due_date"]
    if timed:
        at: time = row["due_time"]
        zone = row["zone"] or default_zone
        start = clock.start_of_day_utc(due, zone, at.hour, at.minute)
        item.add("dtstart", start)
        item.add("duration", DURATIONS.get(row["category"], DEFAULT_DURATION))
    elif as_event:
        item.add("dtstart", due)
        item.add("dtend", due + timedelta(days=1))
        item.add("transp", "TRANSPARENT")
    else:
        item.add("due", due)
    if as_event:
        item.add("status", "CANCELLED" if status == "cancelled" else "CONFIRMED")
    else:
        item.add("status", {"done": "COMPLETED", "cancelled": "CANCELLED"}.get(status, "NEEDS-ACTION"))
        if status == "done" and row["done_at"] is not None:
            item.add("completed", row["done_at"])
            item.add("percent-complete", 100)
    minutes = row["reminder_minutes"]
    if minutes is not None and status == "planned":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        if timed:
            alarm.add("trigger", timedelta(minutes=-int(minutes)))
        elif row["remind_at"] is not None:
            alarm.add("trigger", row["remind_at"])
        else:
            alarm = None
        if alarm is not None:
            item.add_component(alarm)
    return item


def _calendar_head(name: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    text = calendar.to_ical()
    return text[: text.rindex(b"END:VCALENDAR")]


def write_ics(
    session: Session,
    actor: Actor,
    out: TextIO,
    *,
    domain: str,
    mine: bool = False,
    since: date | None = None,
    tasks: str = "todo",
    settings: Settings | None = None,
) -> IcsExport:
    """Write every activity (only the actor's with `mine`; due on or after `since`) to `out`
    as one VCALENDAR. `domain` comes from `uid_domain` (a write session makes it once)."""
    if tasks not in TASK_STYLES:
        raise ValidationError("tasks", f"{tasks!r} is not one of {', '.join(TASK_STYLES)}")
    settings = settings or get_settings()
    a = Activity.__table__
    conditions = []
    if mine:
        conditions.append(a.c.assigned_user_id == actor.id)
    if since is not None:
        conditions.append(a.c.due_date >= since)
    stamp = clock.now()
    name = f"crm activities ({actor.login})" if mine else "crm activities"
    out.write(_calendar_head(name).decode("utf-8"))
    events = todos = 0
    for row in _rows(session, conditions, WINDOW):
        item = component_for(row, domain=domain, stamp=stamp,
                             default_zone=settings.general.timezone, tasks=tasks)
        if isinstance(item, Event):
            events += 1
        else:
            todos += 1
        out.write(item.to_ical().decode("utf-8"))
    out.write("END:VCALENDAR\r\n")
    return IcsExport(events + todos, events, todos)
