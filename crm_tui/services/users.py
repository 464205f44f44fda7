"""Users and teams: list, add, edit (with roles, time zones and team membership).

Adding and changing users is an admin's job (`permissions.check_user_edit`); anybody may change
the personal fields (name, e-mail, time zone) of their own record. Teams are named on the user:
`teams=["Nord", "Süd"]` (or "Nord,Süd") makes the user a member of exactly those, creating a team
the first time its name is used. Every change is a history row (subject "user LOGIN").

The last active admin cannot be demoted or deactivated: somebody must be able to add users.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, col, func, select

from crm_tui import clock
from crm_tui.models import ROLES, Team, TeamMember, User
from crm_tui.services import history, validation
from crm_tui.services.errors import ConflictError, FieldConflict, NotFound, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import check_admin, check_user_edit

USER_FIELDS = ("login", "name", "email", "timezone", "role", "teams", "active")
"""The fields of a user, as forms, `crm users add/edit` options and JSON keys name them."""

_LOGIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class UserDetail:
    id: int
    login: str
    name: str
    email: str
    timezone: str
    """The user's own IANA zone; empty means the configured default."""
    role: str
    teams: tuple[str, ...]
    active: bool
    version: int

    @property
    def display(self) -> str:
        return self.name or self.login

    def form_values(self) -> dict[str, object]:
        """The editable fields, as the Settings form starts from (and passes back as `base`)."""
        return {
            "name": self.name, "email": self.email, "timezone": self.timezone, "role": self.role,
            "teams": ",".join(self.teams), "active": self.active,
        }


@dataclass(frozen=True)
class TeamDetail:
    id: int
    name: str
    members: tuple[str, ...]
    """Logins of the members, sorted."""


# -- reading ---------------------------------------------------------------------------------


def _teams_by_user(session: Session, user_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    statement = (
        select(TeamMember.user_id, Team.name)
        .join(Team, col(Team.id) == col(TeamMember.team_id))
        .order_by(Team.name)
    )
    if user_ids is not None:
        statement = statement.where(col(TeamMember.user_id).in_(list(user_ids)))
    teams: dict[int, list[str]] = {}
    for user_id, name in session.exec(statement).all():
        teams.setdefault(user_id, []).append(name)
    return teams


def _detail(user: User, teams: Iterable[str]) -> UserDetail:
    return UserDetail(
        id=user.id, login=user.login, name=user.name, email=user.email, timezone=user.timezone,
        role=user.role, teams=tuple(teams), active=user.active, version=user.version or 1,
    )


def list_users(session: Session, *, include_inactive: bool = True) -> list[UserDetail]:
    """Every user, by login (a few dozen at most: no windowing needed)."""
    statement = select(User).order_by(User.login)
    if not include_inactive:
        statement = statement.where(col(User.active))
    users = session.exec(statement).all()
    teams = _teams_by_user(session)
    return [_detail(u, teams.get(u.id, ())) for u in users]


def load_user(session: Session, key: int | str, *, for_update: bool = False) -> User:
    """A user by id or login. `for_update` locks the row (PostgreSQL), so that the version
    check of an edit and its UPDATE see the same row."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit() and not _login_exists(session, key)):
        statement = select(User).where(User.id == int(key))
    else:
        statement = select(User).where(User.login == str(key).strip())
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    user = session.exec(statement).first()
    if user is None:
        raise NotFound("user", key)
    return user


def _login_exists(session: Session, login: str) -> bool:
    return session.exec(select(User.id).where(User.login == login)).first() is not None


def get_user(session: Session, key: int | str) -> UserDetail:
    user = load_user(session, key)
    return _detail(user, _teams_by_user(session, [user.id]).get(user.id, ()))


def list_teams(session: Session) -> list[TeamDetail]:
    teams = session.exec(select(Team).order_by(Team.name)).all()
    members: dict[int, list[str]] = {}
    rows = session.exec(
        select(TeamMember.team_id, User.login)
        .join(User, col(User.id) == col(TeamMember.user_id))
        .order_by(User.login)
    ).all()
    for team_id, login in rows:
        members.setdefault(team_id, []).append(login)
    return [TeamDetail(t.id, t.name, tuple(members.get(t.id, ()))) for t in teams]


# -- validating ------------------------------------------------------------------------------


def clean_login(value: object) -> str:
    text = ("" if value is None else str(value)).strip()
    if not text:
        raise ValidationError("login", "is required")
    if not _LOGIN.match(text):
        raise ValidationError(
            "login", f"{text!r} is not a login (letters, digits, . _ - @; at most 64 characters)"
        )
    return text


def clean_timezone(value: object) -> str:
    text = ("" if value is None else str(value)).strip()
    if not text or text.lower() == "default":
        return ""
    try:
        clock.zone(text)
    except clock.ClockError:
        raise ValidationError("timezone", f"{text!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return text


def parse_teams(value: object) -> list[str]:
    """"Nord, Süd" or ["Nord", "Süd"] -> ["Nord", "Süd"] (order kept, duplicates dropped)."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    names: list[str] = []
    for part in parts:
        name = part.strip()
        if not name:
            continue
        if len(name) > 100:
            raise ValidationError("teams", f"team name {name[:20]!r}... is longer than 100 characters")
        if name.lower() not in (n.lower() for n in names):
            names.append(name)
    return names


def _clean_active(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "active"):
        return True
    if text in ("0", "false", "no", "off", "inactive"):
        return False
    raise ValidationError("active", f"{value!r} is not yes or no")


def clean_user_values(values: Mapping[str, object]) -> dict[str, object]:
    """Validate the given fields (only those present)."""
    unknown = set(values) - set(USER_FIELDS)
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not a user field")
    out: dict[str, object] = {}
    for name, value in values.items():
        if name == "login":
            out[name] = clean_login(value)
        elif name == "name":
            out[name] = validation.clean_text(value, "name", 200)
        elif name == "email":
            out[name] = validation.email(None if value is None else str(value))
        elif name == "timezone":
            out[name] = clean_timezone(value)
        elif name == "role":
            out[name] = validation.choice(None if value is None else str(value), ROLES, "role")
        elif name == "teams":
            out[name] = parse_teams(value)
        elif name == "active":
            out[name] = _clean_active(value)
    return out


# -- writing ---------------------------------------------------------------------------------


def _team_ids(session: Session, names: list[str]) -> list[int]:
    """Ids of the named teams, creating the missing ones (matched case-insensitively)."""
    ids = []
    for name in names:
        team = session.exec(select(Team).where(func.lower(Team.name) == name.lower())).first()
        if team is None:
            team = Team(name=name)
            session.add(team)
            session.flush()
        ids.append(team.id)
    return ids


def _current_team_names(session: Session, user_id: int) -> list[str]:
    return _teams_by_user(session, [user_id]).get(user_id, [])


def _set_teams(session: Session, user_id: int, names: list[str]) -> None:
    wanted = set(_team_ids(session, names))
    have = set(session.exec(select(TeamMember.team_id).where(TeamMember.user_id == user_id)).all())
    for team_id in have - wanted:
        member = session.get(TeamMember, (team_id, user_id))
        if member is not None:
            session.delete(member)
    for team_id in sorted(wanted - have):
        session.add(TeamMember(team_id=team_id, user_id=user_id))
    session.flush()


def _active_admins(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(User).where(User.role == "admin", col(User.active))
    ).one()


def add_user(session: Session, actor: Actor, values: Mapping[str, object]) -> User:
    """Create a user (admin only). `login` is required; role defaults to rep."""
    check_admin(actor, "users")
    cleaned = clean_user_values(values)
    if "login" not in cleaned:
        raise ValidationError("login", "is required")
    login = cleaned["login"]
    if _login_exists(session, login):
        raise ValidationError("login", f"{login!r} is a user already; change it with `crm users edit`")
    user = User(
        login=login,
        name=cleaned.get("name") or login,
        email=cleaned.get("email", ""),
        timezone=cleaned.get("timezone", ""),
        role=cleaned.get("role", "rep"),
        active=cleaned.get("active", True),
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    teams = cleaned.get("teams", [])
    if teams:
        _set_teams(session, user.id, teams)
    history.record(session, actor, "create", subject=f"user {login}", field="user",
                   new=f"{user.role}" + (f" ({', '.join(teams)})" if teams else ""))
    return user


def update_user(
    session: Session,
    actor: Actor,
    key: int | str,
    values: Mapping[str, object],
    *,
    expected_version: int | None = None,
    base: Mapping[str, object] | None = None,
) -> User:
    """Change a user's fields. `expected_version` is the version the form loaded: if somebody
    saved since, a ConflictError lists the fields with the loaded, mine and their values."""
    user = load_user(session, key, for_update=True)
    if "login" in values and str(values["login"]).strip() != user.login:
        raise ValidationError("login", "cannot be changed (it is the user's OS login)")
    values = {k: v for k, v in values.items() if k != "login"}
    check_user_edit(actor, user.id, values)
    cleaned = clean_user_values(values)
    current = {**{f: getattr(user, f) for f in ("name", "email", "timezone", "role", "active")},
               "teams": _current_team_names(session, user.id)}
    if expected_version is not None and (user.version or 1) != expected_version:
        raise _conflict(user, current, cleaned, base or {})
    changes: dict[str, tuple[object, object]] = {}
    for name in (f for f in USER_FIELDS if f in cleaned):
        value, old = cleaned[name], current[name]
        if name == "teams":
            if sorted(n.lower() for n in old) != sorted(n.lower() for n in value):
                changes[name] = (", ".join(old), ", ".join(value))
        elif old != value:
            changes[name] = (old, value)
    if not changes:
        return user
    demoted = "role" in changes and cleaned["role"] != "admin"
    deactivated = "active" in changes and not cleaned["active"]
    if user.role == "admin" and user.active and (demoted or deactivated) and _active_admins(session) <= 1:
        field = "role" if demoted else "active"
        raise ValidationError(field, f"{user.login} is the last active admin; make someone else admin first")
    for name in ("name", "email", "timezone", "role", "active"):
        if name in changes:
            setattr(user, name, cleaned[name])
    if "teams" in changes:
        _set_teams(session, user.id, cleaned["teams"])
    session.add(user)
    session.flush()
    if "teams" in changes and not any(n in changes for n in ("name", "email", "timezone", "role", "active")):
        # Only membership rows changed: the user row still gets a new version, so a form that
        # loaded the old teams notices.
        flag_modified(user, "name")
        session.flush()
    history.record_changes(session, actor, changes, subject=f"user {user.login}")
    return user


def _conflict(user: User, current: Mapping[str, object], cleaned: Mapping[str, object],
              base: Mapping[str, object]) -> ConflictError:
    theirs = {**current, "teams": ",".join(current["teams"])}
    conflicts = []
    for name, mine in cleaned.items():
        if name == "teams":
            mine = ",".join(mine)
        their_value = theirs.get(name)
        if _same(mine, their_value):
            continue
        conflicts.append(FieldConflict(name, base.get(name, their_value), mine, their_value))
    return ConflictError("user", user.login, user.version or 1, conflicts)


def _same(a: object, b: object) -> bool:
    def norm(v: object) -> str:
        if isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        return "" if v is None else str(v)

    return norm(a) == norm(b)
