"""Activities: planning and logging, triage (reschedule, pause, resume, cancel, reassign, move
overdue to today), listing, reminders' due moments, and the activity state of records.

Every change to an activity's status, due date or paused flag goes through `touch_records` (one
record) or `touch_many` (a set), which recompute `next_activity_due` on the contacts and
opportunities concerned: the one column that gives the red/yellow/green/grey state everywhere.

Triage works on sets of ids with a constant number of statements: one SELECT ... FOR UPDATE of
the rows, one executemany UPDATE, one bulk INSERT of history rows, one UPDATE per record table.
A batch is all or nothing: one refused row (done, cancelled, someone else's) and nothing is
written. Marking done and chaining live in `crm_tui.services.chaining`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam, case, func, insert, update
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import (
    Activity,
    ActivityType,
    Contact,
    HistoryEntry,
    Opportunity,
    Team,
    TeamMember,
    User,
)
from crm_tui.models.base import UTCDateTime
from crm_tui.services import history, validation
from crm_tui.services.dates import parse_date, parse_time, shift
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import lock_holder
from crm_tui.services.states import STATES, State, state_of_due

PLAN_FIELDS = (
    "type", "contact_id", "opportunity_id", "summary", "note", "due", "time", "assigned_to",
    "priority", "place", "goal", "reminder_minutes",
)


@dataclass(frozen=True)
class ActivityRow:
    """One activity as every front shows it; its fields are exactly the `--json` keys.

    `state` is overdue/today/planned by the due date in the viewer's time zone for an open
    activity (paused or not: see `paused`), none once done or cancelled.
    """

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
    touch_many(session, (contact_id,), (opportunity_id,))


def touch_many(
    session: Session, contact_ids: Iterable[int | None], opportunity_ids: Iterable[int | None]
) -> None:
    """Recompute next_activity_due for sets of contacts and opportunities.

    One `UPDATE ... SET next_activity_due = (SELECT min(due_date) ... correlated) WHERE id IN (...)`
    per table (per chunk of ids). It does not bump the records' versions: the column is derived,
    and a rep's open contact form must not turn stale because an activity was rescheduled.
    """
    session.flush()
    for model, link, ids in (
        (Contact, Activity.contact_id, contact_ids),
        (Opportunity, Activity.opportunity_id, opportunity_ids),
    ):
        wanted = sorted({int(i) for i in ids if i is not None})
        if not wanted:
            continue
        earliest = (
            select(func.min(Activity.due_date))
            .where(col(link) == col(model.id), col(Activity.status) == "planned", ~col(Activity.paused))
            .correlate(model)
            .scalar_subquery()
        )
        for chunk in _chunks(wanted):
            session.exec(
                update(model).where(col(model.id).in_(chunk)).values(next_activity_due=earliest)
            )


CHUNK = 500
"""Ids per `IN (...)`: well below every backend's limit on bound parameters."""


def _chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


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
    if not done and previous_id is None:
        # A chained activity continues one the rep already had on this contact: no lock check.
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


def _make_row(
    activity: Activity, type_name: str | None, category: str | None, login: str | None,
    team: str | None, today: date,
) -> ActivityRow:
    open_ = activity.status == "planned"
    return ActivityRow(
        id=activity.id, type=type_name or "", category=category or "",
        summary=activity.summary, note=activity.note, contact_id=activity.contact_id,
        opportunity_id=activity.opportunity_id,
        assigned_to=login if login else (f"team:{team}" if team else None),
        due=activity.due_date, time=activity.due_time,
        state=state_of_due(activity.due_date, today).value if open_ else State.NONE.value,
        status=activity.status, paused=activity.paused, feedback=activity.feedback,
        previous_id=activity.previous_id,
    )


def _row_statement():
    return (
        select(Activity, ActivityType.name, ActivityType.category, User.login, Team.name)
        .join(ActivityType, col(ActivityType.id) == col(Activity.type_id))
        .outerjoin(User, col(User.id) == col(Activity.assigned_user_id))
        .outerjoin(Team, col(Team.id) == col(Activity.assigned_team_id))
    )


def row_of(session: Session, actor: Actor, activity: Activity) -> ActivityRow:
    """The plain row of one activity (state by the actor's today)."""
    session.flush()
    return rows_by_ids(session, actor, [activity.id])[0]


def rows_by_ids(session: Session, actor: Actor, ids: Iterable[int]) -> list[ActivityRow]:
    """Rows of the given activities, in the order of `ids` (unknown ids left out)."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    today = actor.today()
    found: dict[int, ActivityRow] = {}
    for chunk in _chunks(sorted(wanted)):
        for activity, *names in session.exec(_row_statement().where(col(Activity.id).in_(chunk))).all():
            found[activity.id] = _make_row(activity, *names, today)
    return [found[i] for i in wanted if i in found]


def open_counts_statement(user_id: int, today: date):
    """Counts of one user's open, unpaused activities by state: read through the partial index
    `ix_activities_open_user_due` (assignee, due date) of planned activities."""
    due = col(Activity.due_date)
    return select(
        func.count(case((due < today, 1))),
        func.count(case((due == today, 1))),
        func.count(case((due > today, 1))),
    ).where(col(Activity.assigned_user_id) == user_id, Activity.status == "planned", ~col(Activity.paused))


def open_counts(session: Session, actor: Actor) -> dict[str, int]:
    """Counts of the acting user's open, unpaused activities by state (for `crm status`)."""
    overdue, due_today, planned = session.exec(open_counts_statement(actor.id, actor.today())).one()
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


# -- who may change an activity --------------------------------------------------------------


def check_activity_change(
    session: Session, actor: Actor, activities: Iterable[Activity | _Locked],
    what: str = "change",
) -> None:
    """Raise PermissionDenied unless `actor` may triage every one of `activities`.

    Allowed: an admin; the assignee; a member of the assigned team; whoever created it; the
    rep the contact is assigned to; a manager for activities of their teams' members; anybody
    for an activity assigned to nobody.
    """
    if actor.is_admin:
        return
    members: set[int] | None = None
    refused = []
    for activity in activities:
        user_id, team_id = activity.assigned_user_id, activity.assigned_team_id
        if user_id is None and team_id is None:
            continue
        if actor.id in (user_id, activity.created_by_id) or (team_id is not None and team_id in actor.team_ids):
            continue
        if actor.is_manager:
            if members is None:
                members = team_member_ids(session, actor.team_ids)
            if user_id in members:
                continue
        refused.append(activity)
    if not refused:
        return
    owners = dict(session.exec(
        select(Contact.id, Contact.assigned_user_id)
        .where(col(Contact.id).in_(sorted({a.contact_id for a in refused})))
    ).all())
    for activity in refused:
        if owners.get(activity.contact_id) != actor.id:
            login = None
            if activity.assigned_user_id is not None:
                login = session.exec(select(User.login).where(User.id == activity.assigned_user_id)).first()
            who = login or "another team"
            raise PermissionDenied(
                f"activity {activity.id}: assigned to {who}; only they or a manager may {what} it"
            )


# -- listing (the command line; the screens use services.agenda) -----------------------------

LIST_STATUSES = ("planned", "done", "cancelled", "all")


def _state_condition(state: str, today: date):
    due = col(Activity.due_date)
    conditions = {State.OVERDUE: due < today, State.TODAY: due == today, State.PLANNED: due > today}
    try:
        return conditions[State(state)]
    except (ValueError, KeyError):
        options = ", ".join(s for s in STATES if s != State.NONE)
        raise ValidationError("state", f"{state!r} is not one of {options}") from None


def list_activities(
    session: Session,
    actor: Actor,
    *,
    mine: bool = False,
    assigned_to: str | None = None,
    state: str | None = None,
    contact_id: int | None = None,
    opportunity_id: int | None = None,
    status: str = "planned",
    limit: int = 50,
    offset: int = 0,
) -> list[ActivityRow]:
    """Activities for `crm activities list`.

    Open ones (status planned) come most urgent first (due date, id: the order of the
    `ix_activities_open_user_due` index), as in "My activities"; done, cancelled or all come
    newest first. `state` (overdue, today, planned, by the actor's today) implies open ones.
    Paused activities are listed (with `paused`), as on the screen.
    """
    if status not in LIST_STATUSES:
        raise ValidationError("status", f"{status!r} is not one of {', '.join(LIST_STATUSES)}")
    limit = validation.whole_number(limit, "limit", 0, 100_000)
    offset = validation.whole_number(offset, "offset", 0)
    today = actor.today()
    conditions = []
    if state:
        conditions.append(_state_condition(state, today))
        if status == "all":
            status = "planned"
        elif status != "planned":
            raise ValidationError("state", "only open (planned) activities have a state")
    if status != "all":
        conditions.append(col(Activity.status) == status)
    if mine:
        conditions.append(col(Activity.assigned_user_id) == actor.id)
    elif assigned_to:
        from crm_tui.services.contacts import resolve_assignee

        text = assigned_to.strip()
        if text in ("@me", "me"):
            user_id, team_id = actor.id, None
        else:
            user_id, team_id = resolve_assignee(session, text)
        if user_id is not None:
            conditions.append(col(Activity.assigned_user_id) == user_id)
        elif team_id is not None:
            conditions.append(col(Activity.assigned_team_id) == team_id)
        else:
            conditions += [col(Activity.assigned_user_id).is_(None), col(Activity.assigned_team_id).is_(None)]
    if contact_id is not None:
        if session.get(Contact, contact_id) is None:
            raise NotFound("contact", contact_id)
        conditions.append(col(Activity.contact_id) == contact_id)
    if opportunity_id is not None:
        if session.get(Opportunity, opportunity_id) is None:
            raise NotFound("opportunity", opportunity_id)
        conditions.append(col(Activity.opportunity_id) == opportunity_id)
    order = (
        (col(Activity.due_date), col(Activity.id)) if status == "planned"
        else (col(Activity.due_date).desc(), col(Activity.id).desc())
    )
    statement = _row_statement().where(*conditions).order_by(*order).offset(offset).limit(limit)
    return [_make_row(activity, *names, today) for activity, *names in session.exec(statement).all()]


# -- triage: reschedule, pause, resume, cancel, reassign -------------------------------------


@dataclass(frozen=True)
class TriageResult:
    """What a triage action did: the ids it changed, and those already as asked."""

    action: str
    changed: tuple[int, ...]
    unchanged: tuple[int, ...] = ()

    @property
    def count(self) -> int:
        return len(self.changed)

    @property
    def ids(self) -> tuple[int, ...]:
        return self.changed + self.unchanged


@dataclass
class _Locked:
    """An activity row read for a change (plain values, not an ORM object)."""

    id: int
    contact_id: int
    opportunity_id: int | None
    status: str
    paused: bool
    due_date: date
    due_time: time | None
    reminder_minutes: int | None
    remind_at: datetime | None
    assigned_user_id: int | None
    assigned_team_id: int | None
    created_by_id: int | None
    summary: str
    type_name: str

    @property
    def subject(self) -> str:
        return f"{self.type_name}: {self.summary}" if self.summary else self.type_name


def _ids(ids: Iterable[int | str]) -> list[int]:
    out = []
    for value in ids:
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            raise ValidationError("id", f"{value!r} is not an activity id") from None
    if not out:
        raise ValidationError("id", "no activity given")
    return sorted(set(out))


def _lock_rows(
    session: Session, actor: Actor, ids: Iterable[int | str], what: str, *, open_only: bool = True
) -> list[_Locked]:
    """Read and lock (FOR UPDATE on PostgreSQL; SQLite's writer already holds the file) the
    activities, check they exist, are open and may be changed by `actor`."""
    wanted = _ids(ids)
    rows: dict[int, _Locked] = {}
    for chunk in _chunks(wanted):
        statement = (
            select(
                Activity.id, Activity.contact_id, Activity.opportunity_id, Activity.status,
                Activity.paused, Activity.due_date, Activity.due_time, Activity.reminder_minutes,
                Activity.remind_at, Activity.assigned_user_id, Activity.assigned_team_id,
                Activity.created_by_id, Activity.summary, ActivityType.name,
            )
            .join(ActivityType, col(ActivityType.id) == col(Activity.type_id))
            .where(col(Activity.id).in_(chunk))
            .order_by(col(Activity.id))  # one lock order for every batch: no deadlocks
            .with_for_update(of=Activity)
        )
        for row in session.exec(statement).all():
            rows[row[0]] = _Locked(*row)
    for activity_id in wanted:
        if activity_id not in rows:
            raise NotFound("activity", activity_id)
        if open_only and rows[activity_id].status != "planned":
            raise ValidationError(
                "id", f"activity {activity_id} is {rows[activity_id].status}; only planned activities can be changed"
            )
    locked = [rows[i] for i in wanted]
    check_activity_change(session, actor, locked, what)
    return locked


_ACTIVITY_TABLE = Activity.__table__


def _apply(session: Session, changes: list[dict[str, object]], columns: Sequence[str]) -> None:
    """One executemany UPDATE of `columns` for rows given as dicts with `id` and those columns.

    Bumps `version` (an open form holding the old version sees the change) and `updated_at`.
    """
    if not changes:
        return
    table = _ACTIVITY_TABLE
    values: dict[str, object] = {
        name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns
    }
    values["updated_at"] = bindparam("v_updated_at", type_=UTCDateTime())
    values["version"] = table.c.version + 1
    statement = update(table).where(table.c.id == bindparam("v_id")).values(values)
    now = clock.now()
    params = [
        {"v_id": change["id"], "v_updated_at": now, **{f"v_{n}": change[n] for n in columns}}
        for change in changes
    ]
    session.execute(statement, params)
    # Objects of these activities already in the session are now stale.
    changed = {change["id"] for change in changes}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Activity) and obj.id in changed:
            session.expire(obj)


def _record_many(session: Session, actor: Actor, entries: list[dict[str, object]]) -> None:
    """History rows in one bulk INSERT; entries carry the `history.record` keywords."""
    if not entries:
        return
    now = clock.now()

    def text(value: object) -> str:
        if value is None:
            return ""
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    session.execute(insert(HistoryEntry), [
        {
            "at": now, "user_id": actor.id, "user_login": actor.login,
            "contact_id": e.get("contact_id"), "opportunity_id": e.get("opportunity_id"),
            "activity_id": e.get("activity_id"), "action": e["action"],
            "subject": str(e.get("subject", ""))[:300], "field": e.get("field", ""),
            "old_value": text(e.get("old")), "new_value": text(e.get("new")),
            "note": e.get("note", ""),
        }
        for e in entries
    ])


def _entry(row: _Locked, action: str, **extra: object) -> dict[str, object]:
    return {
        "contact_id": row.contact_id, "opportunity_id": row.opportunity_id, "activity_id": row.id,
        "action": action, "subject": row.subject, **extra,
    }


def _finish(session: Session, rows: Iterable[_Locked]) -> None:
    rows = list(rows)
    touch_many(session, (r.contact_id for r in rows), (r.opportunity_id for r in rows))


def _zones(session: Session, user_ids: Iterable[int | None], settings: Settings) -> dict[int | None, str]:
    wanted = sorted({u for u in user_ids if u is not None})
    zones: dict[int | None, str] = {None: settings.general.timezone}
    for chunk in _chunks(wanted):
        for user_id, zone in session.exec(select(User.id, User.timezone).where(col(User.id).in_(chunk))).all():
            zones[user_id] = zone or settings.general.timezone
    return zones


_SHIFT = re.compile(r"^([+-]?)\s*(\d{1,4})\s*(d|days?|w|weeks?|m|months?)?$")


def parse_shift(value: object, field: str = "by") -> tuple[int, str]:
    """`+3d`, `3`, `-1w`, `+2m`, `3 days` or an int (days) -> (count, unit)."""
    if isinstance(value, bool):
        raise ValidationError(field, f"{value!r} is not a shift like +3d")
    if isinstance(value, int):
        return value, "days"
    if isinstance(value, timedelta):
        return value.days, "days"
    match = _SHIFT.match(str(value or "").strip().lower())
    if not match:
        raise ValidationError(field, f"{value!r} is not a shift (try +1d, +3d, +1w, -2d, +1m)")
    sign, count, unit = match.groups()
    unit = {"d": "days", "w": "weeks", "m": "months"}[(unit or "d")[0]]
    return int(count) * (-1 if sign == "-" else 1), unit


def reschedule(
    session: Session,
    actor: Actor,
    ids: Iterable[int | str],
    due: date | str | None = None,
    by: str | int | timedelta | None = None,
    *,
    settings: Settings | None = None,
) -> TriageResult:
    """Move activities to the date `due` (as typed: 2026-12-01, 1.12., tomorrow, mon, +3d from
    today) or each `by` a shift of its own due date (+3d, +1w, +1m; an int counts days: the
    screens' count prefix). Times are kept; reminders are re-armed (remind_at recomputed, so the
    daemon sends again for the new moment)."""
    settings = settings or get_settings()
    if (due is None) == (by is None):
        raise ValidationError("due", "give either a new date or a shift such as +3d")
    target: date | None = None
    count, unit = 0, "days"
    if due is not None:
        target = due if isinstance(due, date) else parse_date(str(due), actor.today(), "due")
    else:
        count, unit = parse_shift(by)
    rows = _lock_rows(session, actor, ids, "reschedule")
    zones = _zones(session, (r.assigned_user_id for r in rows), settings)
    changes, entries, unchanged = [], [], []
    for row in rows:
        new_due = target if target is not None else shift(row.due_date, count, unit)
        if new_due == row.due_date:
            unchanged.append(row.id)
            continue
        remind_at = compute_remind_at(
            new_due, row.due_time, row.reminder_minutes, zones.get(row.assigned_user_id, zones[None]),
            settings.general.default_due_hour,
        )
        changes.append({"id": row.id, "due_date": new_due, "remind_at": remind_at})
        entries.append(_entry(row, "activity_rescheduled", field="due", old=row.due_date, new=new_due))
    _apply(session, changes, ("due_date", "remind_at"))
    _record_many(session, actor, entries)
    _finish(session, rows)
    return TriageResult("reschedule", tuple(c["id"] for c in changes), tuple(unchanged))


def move_overdue_to_today(
    session: Session, actor: Actor, *, settings: Settings | None = None
) -> TriageResult:
    """Every open, unpaused activity assigned to the actor and due before their today -> today."""
    today = actor.today()
    ids = session.exec(
        select(Activity.id).where(
            col(Activity.assigned_user_id) == actor.id, col(Activity.status) == "planned",
            ~col(Activity.paused), col(Activity.due_date) < today,
        )
    ).all()
    if not ids:
        return TriageResult("reschedule", ())
    return reschedule(session, actor, ids, due=today, settings=settings)


def _set_paused(session: Session, actor: Actor, ids, paused: bool) -> TriageResult:
    action = "pause" if paused else "resume"
    rows = _lock_rows(session, actor, ids, action)
    todo = [r for r in rows if r.paused != paused]
    _apply(session, [{"id": r.id, "paused": paused} for r in todo], ("paused",))
    _record_many(session, actor, [
        _entry(r, "activity_paused" if paused else "activity_resumed", field="paused",
               old=r.paused, new=paused)
        for r in todo
    ])
    _finish(session, todo)
    return TriageResult(action, tuple(r.id for r in todo), tuple(r.id for r in rows if r.paused == paused))


def pause(session: Session, actor: Actor, ids: Iterable[int | str]) -> TriageResult:
    """Pause open activities: they keep their dates but leave their records' state (and the
    reminder daemon) until resumed."""
    return _set_paused(session, actor, ids, True)


def resume(session: Session, actor: Actor, ids: Iterable[int | str]) -> TriageResult:
    """Resume paused activities: they count for their records' state again."""
    return _set_paused(session, actor, ids, False)


def cancel(session: Session, actor: Actor, ids: Iterable[int | str], reason: str = "") -> TriageResult:
    """Cancel open activities (kept, with status cancelled, and written to the history)."""
    note = validation.clean_text(reason, "reason", 2000)
    rows = _lock_rows(session, actor, ids, "cancel")
    _apply(session, [{"id": r.id, "status": "cancelled"} for r in rows], ("status",))
    _record_many(session, actor, [
        _entry(r, "activity_cancelled", field="status", old="planned", new="cancelled", note=note)
        for r in rows
    ])
    _finish(session, rows)
    return TriageResult("cancel", tuple(r.id for r in rows))


def reassign(
    session: Session,
    actor: Actor,
    ids: Iterable[int | str],
    assigned_to: str,
    *,
    settings: Settings | None = None,
) -> TriageResult:
    """Give open activities to a user (`login`), a team (`team:NAME`) or everybody; reminders
    move to the new assignee's time zone."""
    from crm_tui.services.contacts import resolve_assignee

    settings = settings or get_settings()
    user_id, team_id = resolve_assignee(session, assigned_to)
    rows = _lock_rows(session, actor, ids, "reassign")
    zones = _zones(session, [user_id], settings)
    labels = _assignee_labels(session, rows)
    new_label = _label(session, user_id, team_id)
    changes, entries, unchanged = [], [], []
    for row in rows:
        if (row.assigned_user_id, row.assigned_team_id) == (user_id, team_id):
            unchanged.append(row.id)
            continue
        remind_at = compute_remind_at(
            row.due_date, row.due_time, row.reminder_minutes, zones.get(user_id, zones[None]),
            settings.general.default_due_hour,
        )
        changes.append({"id": row.id, "assigned_user_id": user_id, "assigned_team_id": team_id,
                        "remind_at": remind_at})
        entries.append(_entry(row, "activity_assigned", field="assigned_to",
                              old=labels.get(row.id), new=new_label))
    _apply(session, changes, ("assigned_user_id", "assigned_team_id", "remind_at"))
    _record_many(session, actor, entries)
    return TriageResult("reassign", tuple(c["id"] for c in changes), tuple(unchanged))


def _label(session: Session, user_id: int | None, team_id: int | None) -> str:
    if user_id is not None:
        return session.exec(select(User.login).where(User.id == user_id)).first() or ""
    if team_id is not None:
        name = session.exec(select(Team.name).where(Team.id == team_id)).first()
        return f"team:{name}"
    return "everybody"


def _assignee_labels(session: Session, rows: list[_Locked]) -> dict[int, str]:
    logins = dict(session.exec(select(User.id, User.login).where(
        col(User.id).in_(sorted({r.assigned_user_id for r in rows if r.assigned_user_id})))).all())
    teams = dict(session.exec(select(Team.id, Team.name).where(
        col(Team.id).in_(sorted({r.assigned_team_id for r in rows if r.assigned_team_id})))).all())
    out = {}
    for row in rows:
        if row.assigned_user_id:
            out[row.id] = logins.get(row.assigned_user_id, "")
        elif row.assigned_team_id:
            out[row.id] = f"team:{teams.get(row.assigned_team_id, '')}"
        else:
            out[row.id] = "everybody"
    return out
