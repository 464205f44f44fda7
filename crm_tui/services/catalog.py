"""Read-only listings of the configuration records: users (with roles and teams) and activity
types (with their chaining). The Settings screen shows these; pipelines come from `board`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from crm_tui.models import ActivityType, Team, TeamMember, User


@dataclass(frozen=True)
class UserInfo:
    id: int
    login: str
    name: str
    email: str
    role: str
    timezone: str
    active: bool
    teams: tuple[str, ...]


@dataclass(frozen=True)
class ActivityTypeInfo:
    id: int
    name: str
    category: str
    default_summary: str
    default_reminder_minutes: int | None
    chaining: str
    next_type: str | None
    delay_count: int
    delay_unit: str
    delay_from: str
    active: bool

    @property
    def chaining_text(self) -> str:
        """ "suggest → Meeting after 3 days (from the previous deadline)", or "none"."""
        if self.chaining == "none" or not self.next_type:
            return "none"
        origin = "previous deadline" if self.delay_from == "previous_deadline" else "completion"
        return (
            f"{self.chaining} → {self.next_type} after {period_text(self.delay_count, self.delay_unit)}"
            f" (from {origin})"
        )


def period_text(count: int, unit: str) -> str:
    """(1, "weeks") -> "1 week"; (3, "days") -> "3 days"."""
    return f"{count} {unit.removesuffix('s') if count == 1 else unit}"


def list_users(session: Session) -> list[UserInfo]:
    teams: dict[int, list[str]] = {}
    rows = session.exec(
        select(TeamMember.user_id, Team.name)
        .join(Team, col(Team.id) == col(TeamMember.team_id))
        .order_by(Team.name)
    ).all()
    for user_id, team_name in rows:
        teams.setdefault(user_id, []).append(team_name)
    users = session.exec(select(User).order_by(User.login)).all()
    return [
        UserInfo(
            id=u.id, login=u.login, name=u.name, email=u.email, role=u.role,
            timezone=u.timezone, active=u.active, teams=tuple(teams.get(u.id, ())),
        )
        for u in users
    ]


def list_activity_types(session: Session) -> list[ActivityTypeInfo]:
    following = aliased(ActivityType)
    rows = session.exec(
        select(ActivityType, following.name)
        .outerjoin(following, col(following.id) == col(ActivityType.next_type_id))
        .order_by(ActivityType.id)
    ).all()
    return [
        ActivityTypeInfo(
            id=t.id, name=t.name, category=t.category, default_summary=t.default_summary,
            default_reminder_minutes=t.default_reminder_minutes, chaining=t.chaining,
            next_type=next_name, delay_count=t.delay_count, delay_unit=t.delay_unit,
            delay_from=t.delay_from, active=t.active,
        )
        for t, next_name in rows
    ]
