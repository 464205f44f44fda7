"""Activity reminders: which are due, the mails they become, and the in-app notices.

An open, unpaused activity with a reminder is due at `remind_at` (due moment minus lead time,
computed when it is planned or rescheduled). The daemon turns a due reminder into one outbox mail
per recipient (the assignee; for a team, each active member) and stamps `reminder_queued_for`
with the `remind_at` it served, in the same transaction. A reschedule changes `remind_at`, so the
reminder is armed again; done, cancelled and paused activities never match.

Reminders later than CATCH_UP when the daemon first sees them (it was off for a long time, or
someone planned an activity in the past) are recorded in the outbox as `failed` with the reason
rather than mailed: `crm outbox retry` sends them if they are still wanted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.models import Activity, ActivityType, Contact, Opportunity, TeamMember, User
from crm_tui.services.identity import Actor
from crm_tui.services.outbox import NewMail, QueuedMail, enqueue

CATCH_UP = timedelta(days=7)
BATCH = 500
"""Activities handled per write transaction."""


@dataclass(frozen=True)
class Recipient:
    user_id: int
    login: str
    name: str
    email: str
    timezone: str


@dataclass(frozen=True)
class DueReminder:
    """A reminder that is due, with what the mail says about it."""

    activity_id: int
    remind_at: datetime
    due: date
    time: time | None
    type: str
    category: str
    summary: str
    note: str
    place: str
    reminder_minutes: int | None
    contact_id: int
    contact_name: str
    company: str
    contact_phone: str
    contact_email: str
    opportunity_id: int | None
    opportunity_title: str | None
    assigned_user_id: int | None
    assigned_team_id: int | None
    created_by_id: int | None


@dataclass(frozen=True)
class ReminderNotice:
    """A due reminder as the app shows it (a notification)."""

    activity_id: int
    remind_at: datetime
    due: date
    time: time | None
    type: str
    summary: str
    contact_id: int
    contact_name: str
    opportunity_id: int | None
    opportunity_title: str | None

    @property
    def key(self) -> tuple[int, datetime]:
        """Show each (activity, remind_at) once per session; a reschedule makes a new key."""
        return (self.activity_id, self.remind_at)

    @property
    def title(self) -> str:
        return f"Reminder: {self.type}"

    @property
    def message(self) -> str:
        when = self.due.isoformat() + (f" {self.time:%H:%M}" if self.time else "")
        about = self.contact_name + (f" · {self.opportunity_title}" if self.opportunity_title else "")
        return f"{self.summary} — {about}, due {when}"


def _display(name: str, first_name: str) -> str:
    return f"{first_name} {name}".strip() if first_name else name


def _armed(now: datetime):
    """Open, unpaused, due, and not yet queued for this remind_at."""
    return and_(
        col(Activity.status) == "planned",
        ~col(Activity.paused),
        col(Activity.remind_at).is_not(None),
        col(Activity.remind_at) <= now,
        or_(
            col(Activity.reminder_queued_for).is_(None),
            col(Activity.reminder_queued_for) != col(Activity.remind_at),
        ),
    )


def due_reminders(session: Session, now: datetime | None = None, *, limit: int = BATCH, lock: bool = False) -> list[DueReminder]:
    """Reminders due at `now` (default: the clock) not yet queued, oldest first.

    `lock=True` (in the daemon's write transaction) takes the rows with FOR UPDATE SKIP LOCKED on
    PostgreSQL, so two daemons work on different reminders.
    """
    now = now or clock.now()
    statement = (
        select(
            Activity, ActivityType.name, ActivityType.category, Contact.name, Contact.first_name,
            Contact.company, Contact.phone, Contact.email, Opportunity.title,
        )
        .join(ActivityType, col(ActivityType.id) == col(Activity.type_id))
        .join(Contact, col(Contact.id) == col(Activity.contact_id))
        .outerjoin(Opportunity, col(Opportunity.id) == col(Activity.opportunity_id))
        .where(_armed(now))
        .order_by(col(Activity.remind_at), col(Activity.id))
        .limit(limit)
    )
    if lock:
        statement = statement.with_for_update(of=Activity, skip_locked=True)
    found = []
    for activity, type_name, category, name, first_name, company, phone, email, title in session.exec(statement).all():
        found.append(DueReminder(
            activity_id=activity.id, remind_at=activity.remind_at, due=activity.due_date,
            time=activity.due_time, type=type_name, category=category, summary=activity.summary,
            note=activity.note, place=activity.place, reminder_minutes=activity.reminder_minutes,
            contact_id=activity.contact_id, contact_name=_display(name, first_name), company=company,
            contact_phone=phone, contact_email=email, opportunity_id=activity.opportunity_id,
            opportunity_title=title, assigned_user_id=activity.assigned_user_id,
            assigned_team_id=activity.assigned_team_id, created_by_id=activity.created_by_id,
        ))
    return found


def recipients_of(session: Session, reminder: DueReminder, default_timezone: str) -> list[Recipient]:
    """The assignee; for a team each active member; for everybody the one who planned it."""
    if reminder.assigned_user_id is not None:
        ids = [reminder.assigned_user_id]
    elif reminder.assigned_team_id is not None:
        ids = list(session.exec(
            select(TeamMember.user_id).where(TeamMember.team_id == reminder.assigned_team_id)
        ).all())
    elif reminder.created_by_id is not None:
        ids = [reminder.created_by_id]
    else:
        ids = []
    if not ids:
        return []
    users = session.exec(select(User).where(col(User.id).in_(ids), col(User.active)).order_by(User.id)).all()
    return [Recipient(u.id, u.login, u.name or u.login, u.email, u.timezone or default_timezone) for u in users]


def reminder_key(reminder: DueReminder, user_id: int) -> str:
    return f"reminder:{reminder.activity_id}:{reminder.remind_at:%Y%m%dT%H%MZ}:{user_id}"


def _when(reminder: DueReminder, zone: str) -> str:
    day = f"{reminder.due:%A} {reminder.due.isoformat()}"
    if reminder.time is None:
        return f"{day} (no time set)"
    return f"{day} {reminder.time:%H:%M} ({zone})"


def reminder_mail(
    reminder: DueReminder, recipient: Recipient, *, command: str = "crm", late: bool = False,
    default_timezone: str = "UTC",
) -> NewMail:
    """The mail one recipient gets for one reminder.

    The due time is wall-clock time in the assignee's zone (the configured one for a team), as
    it was planned; the mail says which zone that is.
    """
    zone = recipient.timezone if reminder.assigned_user_id is not None else default_timezone
    about = reminder.company or reminder.contact_name
    subject = f"Reminder: {reminder.type} · {about} — {reminder.summary}"
    lines = [
        f"Hello {recipient.name},",
        "",
        f"a reminder for your {reminder.type.lower()}:" if reminder.type else "a reminder:",
        "",
        f"  What:         {reminder.type}: {reminder.summary}",
        f"  Due:          {_when(reminder, zone)}",
        f"  Contact:      {reminder.contact_name}"
        + (f" ({reminder.company})" if reminder.company and reminder.company != reminder.contact_name else ""),
    ]
    if reminder.contact_phone:
        lines.append(f"  Phone:        {reminder.contact_phone}")
    if reminder.contact_email:
        lines.append(f"  E-mail:       {reminder.contact_email}")
    if reminder.opportunity_title:
        lines.append(f"  Opportunity:  {reminder.opportunity_title} (#{reminder.opportunity_id})")
    if reminder.place:
        lines.append(f"  Place:        {reminder.place}")
    if reminder.note:
        lines += ["", "Note:", *("  " + line for line in reminder.note.splitlines())]
    lines += [
        "",
        "Open it:",
        f"  {command} contacts show {reminder.contact_id}",
    ]
    if reminder.opportunity_id:
        lines.append(f"  {command} opps show {reminder.opportunity_id}")
    lines += [
        "Mark it done:",
        f"  {command} activities done {reminder.activity_id}",
        "",
        "-- ",
        "crm-tui reminder daemon (crm remind)",
    ]
    error = ""
    status = "pending"
    if not recipient.email:
        status, error = "failed", f"not sent: user {recipient.login} has no e-mail address"
    elif late:
        status = "failed"
        error = (f"not sent: the reminder was due at {reminder.remind_at:%Y-%m-%d %H:%M} UTC, more than "
                 f"{CATCH_UP.days} days before the daemon saw it (crm outbox retry sends it anyway)")
    return NewMail(
        dedupe_key=reminder_key(reminder, recipient.user_id), kind="reminder",
        to=(recipient.email,) if recipient.email else (), subject=subject, body="\n".join(lines) + "\n",
        user_id=recipient.user_id, contact_id=reminder.contact_id,
        opportunity_id=reminder.opportunity_id, activity_id=reminder.activity_id,
        status=status, error=error,
    )


def plan_reminder_mails(
    session: Session, reminders: Sequence[DueReminder], default_timezone: str, *, command: str = "crm",
    now: datetime | None = None, nobody: list[int] | None = None,
) -> list[NewMail]:
    """The mails for these reminders; activities with no one to remind go to `nobody`."""
    now = now or clock.now()
    mails = []
    known: dict[tuple[int | None, int | None, int | None], list[Recipient]] = {}
    for reminder in reminders:
        late = reminder.remind_at < now - CATCH_UP
        who = (reminder.assigned_user_id, reminder.assigned_team_id, reminder.created_by_id)
        if who not in known:
            known[who] = recipients_of(session, reminder, default_timezone)
        recipients = known[who]
        if not recipients and nobody is not None:
            nobody.append(reminder.activity_id)
        for recipient in recipients:
            mails.append(reminder_mail(reminder, recipient, command=command, late=late,
                                       default_timezone=default_timezone))
    return mails


@dataclass(frozen=True)
class QueuedBatch:
    handled: int
    """Reminders stamped as queued (a full BATCH means: call again)."""
    added: list[QueuedMail]
    nobody: list[int]
    """Activities whose reminder had no one to go to (no assignee, no active team member)."""


def queue_due_reminders(
    session: Session, sender: str, default_timezone: str, *, command: str = "crm", limit: int = BATCH,
) -> QueuedBatch:
    """One batch: queue the mails of up to `limit` due reminders and stamp them as queued."""
    now = clock.now()
    due = due_reminders(session, now, limit=limit, lock=True)
    nobody: list[int] = []
    mails = plan_reminder_mails(session, due, default_timezone, command=command, now=now, nobody=nobody)
    added = enqueue(session, mails, sender)
    # The rows are ours until commit (the write lock on SQLite, FOR UPDATE on PostgreSQL), so
    # remind_at is still the value the mails were made for.
    table = Activity.__table__
    ids = [reminder.activity_id for reminder in due]
    for start in range(0, len(ids), 500):
        session.execute(
            update(table).where(table.c.id.in_(ids[start:start + 500])).values(reminder_queued_for=table.c.remind_at)
        )
    return QueuedBatch(len(due), added, nobody)


def due_reminders_for_user(
    session: Session, actor: Actor, since: datetime, *, until: datetime | None = None, limit: int = 20
) -> list[ReminderNotice]:
    """Reminders of `actor` that came due after `since` (up to now), for the app's notifications.

    Read from the activities themselves, so notices appear whether or not a daemon runs. The app
    remembers `notice.key`s it has shown, to show each once per session.
    """
    until = until or clock.now()
    mine = [col(Activity.assigned_user_id) == actor.id]
    if actor.team_ids:
        mine.append(and_(col(Activity.assigned_user_id).is_(None),
                         col(Activity.assigned_team_id).in_(sorted(actor.team_ids))))
    mine.append(and_(col(Activity.assigned_user_id).is_(None), col(Activity.assigned_team_id).is_(None),
                     col(Activity.created_by_id) == actor.id))
    statement = (
        select(Activity, ActivityType.name, Contact.name, Contact.first_name, Opportunity.title)
        .join(ActivityType, col(ActivityType.id) == col(Activity.type_id))
        .join(Contact, col(Contact.id) == col(Activity.contact_id))
        .outerjoin(Opportunity, col(Opportunity.id) == col(Activity.opportunity_id))
        .where(
            col(Activity.status) == "planned", ~col(Activity.paused),
            col(Activity.remind_at).is_not(None), col(Activity.remind_at) > since,
            col(Activity.remind_at) <= until, or_(*mine),
        )
        .order_by(col(Activity.remind_at), col(Activity.id))
        .limit(limit)
    )
    return [
        ReminderNotice(
            activity_id=a.id, remind_at=a.remind_at, due=a.due_date, time=a.due_time, type=type_name,
            summary=a.summary, contact_id=a.contact_id, contact_name=_display(name, first_name),
            opportunity_id=a.opportunity_id, opportunity_title=title,
        )
        for a, type_name, name, first_name, title in session.exec(statement).all()
    ]
