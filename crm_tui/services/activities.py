"""Activities: planning and logging, reminders' due moments, and the activity state of records.

Every change to an activity's status, due date or paused flag goes through `touch_records`, which
recomputes `next_activity_due` on its contact and opportunity: the one column that gives the
red/yellow/green/grey state everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, update
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import Activity, ActivityType, Contact, Opportunity, TeamMember, User
from crm_tui.services import history, validation
from crm_tui.services.dates import parse_date, parse_time
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import lock_holder
from crm_tui.services.states import state_of_due

PLAN_FIELDS = (
    "type", "contact_id", "opportunity_id", "summary", "note", "due", "time", "assigned_to",
    "priority", "place", "goal", "reminder_minutes",
)


@dataclass(frozen=True)
class ActivityRow:
    id: int
    type: str
    category: str
    summary: str
    note: str
    contact_id: int
    opportunity_id: int | None
    assigned_to: str | None
    due: date
    time: time | None
    state: str
    status: str
    paused: bool
    feedback: str
    previous_id: int | None


def compute_remind_at(
    due: date, at: time | None, minutes: int | None, tz: str, default_hour: int
) -> datetime | None:
    """When the reminder mail is due: due moment (or the default hour) minus the lead time."""
    if minutes is None:
        return None
    hour, minute = (at.hour, at.minute) if at else (default_hour, 0)
    return clock.start_of_day_utc(due, tz, hour, minute) - timedelta(minutes=minutes)


def touch_records(session: Session, contact_id: int | None, opportunity_id: int | None) -> None:
    """Recompute next_activity_due for one contact and one opportunity (in SQL)."""
    session.flush()
    if contact_id is not None:
        earliest = (
            select(func.min(Activity.due_date))
            .where(Activity.contact_id == contact_id, Activity.status == "planned", ~col(Activity.paused))
            .scalar_subquery()
        )
        session.exec(update(Contact).where(col(Contact.id) == contact_id).values(next_activity_due=earliest))
    if opportunity_id is not None:
        earliest = (
            select(func.min(Activity.due_date))
            .where(
                Activity.opportunity_id == opportunity_id, Activity.status == "planned",
                ~col(Activity.paused),
            )
            .scalar_subquery()
        )
        session.exec(
            update(Opportunity).where(col(Opportunity.id) == opportunity_id).values(next_activity_due=earliest)
        )


def find_type(session: Session, value: object, field: str = "type") -> ActivityType:
    text = ("" if value is None else str(value)).strip()
    if not text:
        raise ValidationError(field, "an activity type is required")
    statement = select(ActivityType)
    if text.isdigit():
        found = session.get(ActivityType, int(text))
    else:
        found = session.exec(statement.where(col(ActivityType.name).ilike(text))).first()
        if found is None:
            found = session.exec(
                statement.where(ActivityType.category == text.lower(), ActivityType.active).order_by(ActivityType.id)
            ).first()
    if found is None:
        raise ValidationError(field, f"no activity type {text!r}")
    return found


def _assignee_tz(session: Session, user_id: int | None, settings: Settings) -> str:
    if user_id is not None:
        zone = session.exec(select(User.timezone).where(User.id == user_id)).first()
        if zone:
            return zone
    return settings.general.timezone


def check_can_plan(session: Session, actor: Actor, contact: Contact) -> None:
    """Nobody plans activities on a prospect locked to someone else (a manager may)."""
    holder = lock_holder(contact)
    if holder is not None and holder != actor.id and not actor.is_manager:
        login = session.exec(select(User.login).where(User.id == holder)).first()
        raise PermissionDenied(
            f"contact {contact.id}: locked by {login} until {contact.locked_until.date().isoformat()}"
        )


def plan_activity(
    session: Session,
    actor: Actor,
    values: Mapping[str, object],
    *,
    settings: Settings | None = None,
    done: bool = False,
    previous_id: int | None = None,
) -> Activity:
    """Plan an activity (or log one that happened: `done=True`). Fields as in PLAN_FIELDS."""
    from crm_tui.services.contacts import resolve_assignee

    settings = settings or get_settings()
    unknown = set(values) - set(PLAN_FIELDS) - {"feedback"}
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not an activity field")
    kind = find_type(session, values.get("type"))
    contact_id = values.get("contact_id")
    opportunity_id = values.get("opportunity_id")
    opportunity = None
    if opportunity_id not in (None, ""):
        opportunity = session.get(Opportunity, int(opportunity_id))
        if opportunity is None:
            raise ValidationError("opportunity_id", f"opportunity {opportunity_id} does not exist")
        contact_id = contact_id or opportunity.contact_id
    if contact_id in (None, ""):
        raise ValidationError("contact_id", "an activity belongs to a contact or an opportunity")
    contact = session.get(Contact, int(contact_id))
    if contact is None:
        raise ValidationError("contact_id", f"contact {contact_id} does not exist")
    if not done:
        check_can_plan(session, actor, contact)
    due_value = values.get("due")
    due = due_value if isinstance(due_value, date) else parse_date(str(due_value or ""), actor.today())
    at = values.get("time")
    at = at if isinstance(at, time) or at is None else parse_time(str(at))
    if "assigned_to" in values and values["assigned_to"] not in (None, ""):
        user_id, team_id = resolve_assignee(session, values["assigned_to"])
    else:
        user_id, team_id = kind.default_assignee_id or actor.id, None
    reminder = values.get("reminder_minutes", kind.default_reminder_minutes)
    reminder = None if reminder in (None, "") else validation.whole_number(reminder, "reminder_minutes", 0, 60 * 24 * 60)
    priority = validation.whole_number(values.get("priority") or 0, "priority", 0, 3)
    activity = Activity(
        type_id=kind.id,
        contact_id=contact.id,
        opportunity_id=opportunity.id if opportunity else None,
        summary=validation.clean_text(values.get("summary") or kind.default_summary or kind.name, "summary", 200),
        note=validation.clean_text(values.get("note") if values.get("note") is not None else kind.default_note, "note", 20_000),
        due_date=due,
        due_time=at,
        assigned_user_id=user_id,
        assigned_team_id=team_id,
        priority=priority,
        place=validation.clean_text(values.get("place"), "place", 200),
        goal=validation.clean_text(values.get("goal"), "goal", 200),
        reminder_minutes=reminder,
        previous_id=previous_id,
        created_by_id=actor.id,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    if done:
        activity.status = "done"
        activity.done_at = clock.now()
        activity.feedback = validation.clean_text(values.get("feedback"), "feedback", 20_000)
    else:
        activity.remind_at = compute_remind_at(
            due, at, reminder, _assignee_tz(session, user_id, settings), settings.general.default_due_hour
        )
    session.add(activity)
    session.flush()
    history.record(
        session, actor, "activity_done" if done else "activity_planned",
        contact_id=contact.id, opportunity_id=activity.opportunity_id, activity_id=activity.id,
        subject=f"{kind.name}: {activity.summary}", new=due, note=activity.feedback,
    )
    touch_records(session, contact.id, activity.opportunity_id)
    return activity


def auto_plan_for_new_contact(session: Session, actor: Actor, contact: Contact, settings: Settings) -> Activity | None:
    """A call if the contact has a phone number, else an e-mail if it has an address."""
    if contact.phone or contact.mobile:
        category = "call"
    elif contact.email:
        category = "email"
    else:
        return None
    kind = session.exec(
        select(ActivityType).where(ActivityType.category == category, ActivityType.active).order_by(ActivityType.id)
    ).first()
    if kind is None:
        return None
    assignee = contact.assigned_user_id or actor.id
    return plan_activity(
        session, actor,
        {"type": kind.id, "contact_id": contact.id, "due": actor.today(),
         "assigned_to": session.get(User, assignee).login if assignee else None,
         "summary": kind.default_summary or ("First call" if category == "call" else "First e-mail")},
        settings=settings,
    )


def row_of(session: Session, actor: Actor, activity: Activity) -> ActivityRow:
    kind = session.get(ActivityType, activity.type_id)
    assignee = None
    if activity.assigned_user_id:
        assignee = session.exec(select(User.login).where(User.id == activity.assigned_user_id)).first()
    elif activity.assigned_team_id:
        from crm_tui.models import Team

        team = session.get(Team, activity.assigned_team_id)
        assignee = f"team:{team.name}" if team else None
    open_ = activity.status == "planned"
    return ActivityRow(
        id=activity.id, type=kind.name if kind else "", category=kind.category if kind else "",
        summary=activity.summary, note=activity.note, contact_id=activity.contact_id,
        opportunity_id=activity.opportunity_id, assigned_to=assignee, due=activity.due_date,
        time=activity.due_time,
        state=state_of_due(activity.due_date, actor.today()).value if open_ else "none",
        status=activity.status, paused=activity.paused, feedback=activity.feedback,
        previous_id=activity.previous_id,
    )


def open_counts(session: Session, actor: Actor) -> dict[str, int]:
    """Counts of the acting user's open, unpaused activities by state (for `crm status`)."""
    today = actor.today()
    due = col(Activity.due_date)
    statement = select(
        func.count(case((due < today, 1))),
        func.count(case((due == today, 1))),
        func.count(case((due > today, 1))),
    ).where(col(Activity.assigned_user_id) == actor.id, Activity.status == "planned", ~col(Activity.paused))
    overdue, due_today, planned = session.exec(statement).one()
    return {"overdue": overdue, "today": due_today, "planned": planned}


def load_activity(session: Session, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound("activity", activity_id)
    return activity


def team_member_ids(session: Session, team_ids) -> set[int]:
    if not team_ids:
        return set()
    return set(session.exec(select(TeamMember.user_id).where(col(TeamMember.team_id).in_(sorted(team_ids)))).all())
