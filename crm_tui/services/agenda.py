""""My activities" and the calendar: open activities of the acting user (or their teams, or all).

Rows come out as plain dataclasses, in windows (`LIMIT/OFFSET`) ordered most urgent first
(`due_date, id`, the order of the `ix_activities_open_user_due` index). The expected revenue total
is one SQL SUM over the distinct opportunities behind the listed activities, so an opportunity
with three open activities counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, or_, true
from sqlmodel import Session, col, select

from crm_tui.models import (
    Activity,
    ActivityType,
    Contact,
    Opportunity,
    Stage,
    Team,
    TeamMember,
    User,
)
from crm_tui.services.board import CENT, cents_sum, from_cents
from crm_tui.services.errors import ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.states import STATES, State, relative_deadline, state_of_due

SCOPES = ("mine", "team", "all")
CALENDAR_STATUSES = ("planned", "done")


@dataclass(frozen=True)
class AgendaRow:
    """One line of "My activities"."""

    id: int
    contact_id: int
    contact: str
    email: str
    phone: str
    opportunity_id: int | None
    opportunity: str | None
    type: str
    category: str
    summary: str
    due: date
    time: time | None
    deadline: str
    """The due date in words: "3 days ago", "today", "in 2 days"; the date beyond 99 days."""
    state: str
    paused: bool
    expected_revenue: Decimal | None
    """The opportunity's, when the activity belongs to one."""
    currency: str | None
    stage: str | None
    assigned_to: str | None = None
    """Login of the assignee, `team:NAME` for a team, None for everybody."""
    priority: int = 0
    place: str = ""

    @property
    def next_activity(self) -> str:
        return f"{self.type}: {self.summary}" if self.summary else self.type


@dataclass(frozen=True)
class CalendarItem:
    """One activity in the calendar (open or done)."""

    id: int
    due: date
    time: time | None
    type: str
    category: str
    summary: str
    contact_id: int
    contact: str
    opportunity: str | None
    status: str
    state: str
    """overdue/today/planned for an open activity; none when done."""


@dataclass(frozen=True)
class DayCount:
    open: int
    done: int


# -- conditions ------------------------------------------------------------------------------


def scope_condition(session: Session, actor: Actor, scope: str) -> ColumnElement:
    """mine: assigned to me; team: to me, my teams or their members; all: everybody's."""
    if scope == "mine":
        return col(Activity.assigned_user_id) == actor.id
    if scope == "team":
        teams = sorted(actor.team_ids)
        if not teams:
            return col(Activity.assigned_user_id) == actor.id
        members = select(TeamMember.user_id).where(col(TeamMember.team_id).in_(teams))
        return or_(
            col(Activity.assigned_user_id) == actor.id,
            col(Activity.assigned_team_id).in_(teams),
            col(Activity.assigned_user_id).in_(members),
        )
    if scope == "all":
        return true()
    if scope.startswith("user:"):
        login = scope[5:].strip()
        user_id = session.exec(select(User.id).where(User.login == login)).first()
        if user_id is None:
            raise ValidationError("scope", f"no user with login {login!r}")
        return col(Activity.assigned_user_id) == user_id
    if scope.startswith("team:"):
        name = scope[5:].strip()
        team_id = session.exec(select(Team.id).where(col(Team.name).ilike(name))).first()
        if team_id is None:
            raise ValidationError("scope", f"no team named {name!r}")
        members = select(TeamMember.user_id).where(col(TeamMember.team_id) == team_id)
        return or_(col(Activity.assigned_team_id) == team_id, col(Activity.assigned_user_id).in_(members))
    raise ValidationError(
        "scope", f"{scope!r} is not one of {', '.join(SCOPES)}, user:LOGIN or team:NAME"
    )


def _state_condition(state: str | None, today: date) -> ColumnElement:
    if not state:
        return true()
    due = col(Activity.due_date)
    conditions = {State.OVERDUE: due < today, State.TODAY: due == today, State.PLANNED: due > today}
    try:
        return conditions[State(state)]
    except (ValueError, KeyError):
        options = ", ".join(s for s in STATES if s != State.NONE)
        raise ValidationError("state", f"{state!r} is not one of {options}") from None


def _open_conditions(
    session: Session, actor: Actor, scope: str, state: str | None, type_id: int | None = None
) -> list:
    conditions = [
        col(Activity.status) == "planned",
        scope_condition(session, actor, scope),
        _state_condition(state, actor.today()),
    ]
    if type_id is not None:
        conditions.append(col(Activity.type_id) == type_id)
    return conditions


def _display(name: str, first_name: str) -> str:
    return f"{name}, {first_name}" if first_name else name


# -- "My activities" -------------------------------------------------------------------------


def _agenda_rows(session: Session, actor: Actor, conditions: list, offset: int, limit: int) -> list[AgendaRow]:
    today = actor.today()
    statement = (
        select(
            Activity.id, Activity.contact_id, Contact.name, Contact.first_name, Contact.email,
            Contact.phone, Contact.mobile, Activity.opportunity_id, Opportunity.title,
            ActivityType.name, ActivityType.category, Activity.summary, Activity.due_date,
            Activity.due_time, Activity.paused, Opportunity.expected_revenue,
            Opportunity.currency, Stage.name, User.login, Team.name, Activity.priority,
            Activity.place,
        )
        .join(Contact, col(Contact.id) == col(Activity.contact_id))
        .join(ActivityType, col(ActivityType.id) == col(Activity.type_id))
        .outerjoin(Opportunity, col(Opportunity.id) == col(Activity.opportunity_id))
        .outerjoin(Stage, col(Stage.id) == col(Opportunity.stage_id))
        .outerjoin(User, col(User.id) == col(Activity.assigned_user_id))
        .outerjoin(Team, col(Team.id) == col(Activity.assigned_team_id))
        .where(*conditions)
        .order_by(col(Activity.due_date), col(Activity.id))
        .offset(max(offset, 0))
        .limit(max(limit, 0))
    )
    return [
        AgendaRow(
            id=r[0], contact_id=r[1], contact=_display(r[2], r[3]), email=r[4],
            phone=r[5] or r[6], opportunity_id=r[7], opportunity=r[8], type=r[9], category=r[10],
            summary=r[11], due=r[12], time=r[13], deadline=relative_deadline(r[12], today),
            state=state_of_due(r[12], today).value, paused=bool(r[14]),
            expected_revenue=None if r[15] is None else Decimal(r[15]).quantize(CENT),
            currency=r[16], stage=r[17],
            assigned_to=r[18] if r[18] else (f"team:{r[19]}" if r[19] else None),
            priority=r[20] or 0, place=r[21] or "",
        )
        for r in session.exec(statement).all()
    ]


def my_activities(
    session: Session,
    actor: Actor,
    offset: int = 0,
    limit: int = 60,
    scope: str = "mine",
    state: str | None = None,
    type_id: int | None = None,
) -> list[AgendaRow]:
    """One window of the open activities in `scope` (of one type), most urgent first."""
    return _agenda_rows(
        session, actor, _open_conditions(session, actor, scope, state, type_id), offset, limit
    )


def my_activity_ids(
    session: Session,
    actor: Actor,
    scope: str = "mine",
    state: str | None = None,
    type_id: int | None = None,
    limit: int = 10_000,
) -> list[int]:
    """The ids of the listed activities, in list order (for "select all")."""
    statement = (
        select(col(Activity.id))
        .where(*_open_conditions(session, actor, scope, state, type_id))
        .order_by(col(Activity.due_date), col(Activity.id))
        .limit(limit)
    )
    return list(session.exec(statement).all())


def contact_agenda(session: Session, actor: Actor, contact_id: int, limit: int = 50) -> list[AgendaRow]:
    """The open activities of one contact (everybody's), most urgent first."""
    conditions = [col(Activity.status) == "planned", col(Activity.contact_id) == contact_id]
    return _agenda_rows(session, actor, conditions, 0, limit)


def my_activities_total(
    session: Session, actor: Actor, scope: str = "mine", state: str | None = None,
    type_id: int | None = None,
) -> tuple[int, Decimal]:
    """(number of open activities, expected revenue of their distinct opportunities)."""
    conditions = _open_conditions(session, actor, scope, state, type_id)
    count = session.exec(select(func.count()).select_from(Activity).where(*conditions)).one()
    opportunity_ids = (
        select(col(Activity.opportunity_id))
        .where(*conditions, col(Activity.opportunity_id).is_not(None))
    )
    cents = session.exec(
        select(cents_sum(col(Opportunity.expected_revenue))).where(
            col(Opportunity.id).in_(opportunity_ids)
        )
    ).one()
    return count, from_cents(cents)


# -- the calendar ----------------------------------------------------------------------------


def _calendar_conditions(session: Session, actor: Actor, start: date, end: date, scope: str):
    if end < start:
        raise ValidationError("end", "the period ends before it starts")
    return [
        col(Activity.status).in_(CALENDAR_STATUSES),
        col(Activity.due_date) >= start,
        col(Activity.due_date) <= end,
        scope_condition(session, actor, scope),
    ]


def activities_between(
    session: Session,
    actor: Actor,
    start: date,
    end: date,
    scope: str = "mine",
    limit: int = 500,
    offset: int = 0,
) -> list[CalendarItem]:
    """Planned and done activities due from `start` to `end` (both included), in time order
    (one window of `limit` from `offset`: the calendar's list view pages through them)."""
    today = actor.today()
    statement = (
        select(
            Activity.id, Activity.due_date, Activity.due_time, ActivityType.name,
            ActivityType.category, Activity.summary, Activity.contact_id, Contact.name,
            Contact.first_name, Opportunity.title, Activity.status,
        )
        .join(Contact, col(Contact.id) == col(Activity.contact_id))
        .join(ActivityType, col(ActivityType.id) == col(Activity.type_id))
        .outerjoin(Opportunity, col(Opportunity.id) == col(Activity.opportunity_id))
        .where(*_calendar_conditions(session, actor, start, end, scope))
        .order_by(
            col(Activity.due_date), col(Activity.due_time).is_(None), col(Activity.due_time),
            col(Activity.id),
        )
        .offset(max(offset, 0))
        .limit(limit)
    )
    return [
        CalendarItem(
            id=r[0], due=r[1], time=r[2], type=r[3], category=r[4], summary=r[5],
            contact_id=r[6], contact=_display(r[7], r[8]), opportunity=r[9], status=r[10],
            state=(state_of_due(r[1], today) if r[10] == "planned" else State.NONE).value,
        )
        for r in session.exec(statement).all()
    ]


def count_between(
    session: Session, actor: Actor, start: date, end: date, scope: str = "mine"
) -> int:
    """How many planned and done activities are due from `start` to `end`."""
    statement = select(func.count()).select_from(Activity).where(
        *_calendar_conditions(session, actor, start, end, scope)
    )
    return session.exec(statement).one()


def day_counts(
    session: Session, actor: Actor, start: date, end: date, scope: str = "mine"
) -> dict[date, DayCount]:
    """Per day from `start` to `end`: open and done activities (days without any are left out)."""
    is_open = col(Activity.status) == "planned"
    statement = (
        select(
            col(Activity.due_date),
            func.count(case((is_open, 1))),
            func.count(),
        )
        .where(*_calendar_conditions(session, actor, start, end, scope))
        .group_by(col(Activity.due_date))
    )
    out = {}
    for day, open_count, total in session.exec(statement).all():
        out[day] = DayCount(open=open_count, done=total - open_count)
    return out
