"""Who is acting: the OS login (or --user / CRM_USER), resolved to a user of this database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, func, select

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.login import acting_login, os_login
from crm_tui.models import Team, TeamMember, User
from crm_tui.services.errors import PermissionDenied

__all__ = ["Actor", "acting_login", "actor_for", "os_login", "resolve_actor", "team_names"]


@dataclass(frozen=True)
class Actor:
    """The acting user, as services need it: plain data, safe to hand to any thread."""

    id: int
    login: str
    name: str
    email: str
    role: str
    team_ids: frozenset[int]
    timezone: str
    """The effective IANA zone (the user's own, else the configured default)."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_manager(self) -> bool:
        return self.role in ("manager", "admin")

    def today(self) -> date:
        return clock.today(self.timezone)

    @property
    def display(self) -> str:
        return self.name or self.login


def actor_for(session: Session, user: User, settings: Settings | None = None) -> Actor:
    settings = settings or get_settings()
    team_ids = frozenset(
        session.exec(select(TeamMember.team_id).where(TeamMember.user_id == user.id)).all()
    )
    return Actor(
        id=user.id,
        login=user.login,
        name=user.name,
        email=user.email,
        role=user.role,
        team_ids=team_ids,
        timezone=user.timezone or settings.general.timezone,
    )


def resolve_actor(session: Session, login: str, settings: Settings | None = None) -> Actor:
    """The user for `login`. The first login to open an empty database becomes its admin.

    Runs in a write session (it may create that first user).
    """
    user = session.exec(select(User).where(User.login == login)).first()
    if user is None:
        if session.exec(select(func.count()).select_from(User)).one() == 0:
            user = User(login=login, name=login, role="admin")
            session.add(user)
            session.flush()
        else:
            admins = session.exec(
                select(User.login).where(User.role == "admin", User.active).order_by(User.login).limit(3)
            ).all()
            who = " or ".join([", ".join(admins[:-1]), admins[-1]] if len(admins) > 1 else admins) or "an admin"
            raise PermissionDenied(
                f"user: {login!r} is not a user of this database; ask {who} to run "
                f"`crm users add --login {login}`"
            )
    if not user.active:
        raise PermissionDenied(f"user: {login!r} is deactivated; ask an admin to re-activate it")
    return actor_for(session, user, settings)


def team_names(session: Session, team_ids: frozenset[int]) -> list[str]:
    if not team_ids:
        return []
    return list(session.exec(select(Team.name).where(Team.id.in_(team_ids)).order_by(Team.name)).all())
