"""Activity types: the configured kinds of activity, their defaults and their chaining.

A type has a category (email, call, meeting, todo, reminder, upload), defaults for a new activity
(assignee, summary, note, reminder lead time) and a chaining rule for what follows when one is
done: `none`, `suggest` (a pre-filled form the rep confirms) or `trigger` (created at once), with
the next type and a delay (count and unit) counted from the previous deadline or from the
completion date. Only admins add or change types; everybody lists them.

Values come in as a dict of field names (TYPE_FIELDS: the CLI options and form fields) and go out
as `ActivityTypeRow`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from crm_tui.models import CATEGORIES, CHAINING, DELAY_FROM, DELAY_UNITS, ActivityType, User
from crm_tui.services import history, validation
from crm_tui.services.errors import ConflictError, NotFound, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import check_admin

TYPE_FIELDS = (
    "name", "category", "default_assignee", "default_summary", "default_note",
    "default_reminder_minutes", "chaining", "next_type", "delay_count", "delay_unit", "delay_from",
    "active",
)
MAX_DELAY_COUNT = 999
MAX_REMINDER_MINUTES = 60 * 24 * 60

# What people type for the choices, beyond the canonical words.
_CATEGORY_ALIASES = {
    "e-mail": "email", "mail": "email", "to-do": "todo", "task": "todo", "phone": "call",
    "upload document": "upload", "upload_document": "upload", "upload-document": "upload",
    "document": "upload",
}
_UNIT_ALIASES = {"d": "days", "day": "days", "w": "weeks", "week": "weeks", "m": "months", "month": "months"}
_FROM_ALIASES = {
    "previous": "previous_deadline", "deadline": "previous_deadline",
    "previous-deadline": "previous_deadline", "completion": "completion_date",
    "completion-date": "completion_date", "done": "completion_date", "today": "completion_date",
}


@dataclass(frozen=True)
class ActivityTypeRow:
    id: int
    name: str
    category: str
    default_assignee: str | None
    """The default assignee's login (None: whoever plans it)."""
    default_summary: str
    default_note: str
    default_reminder_minutes: int | None
    chaining: str
    next_type: str | None
    next_type_id: int | None
    delay_count: int
    delay_unit: str
    delay_from: str
    active: bool
    version: int

    @property
    def delay_text(self) -> str:
        """ "+3 days after the deadline" style, for lists and settings screens."""
        if self.chaining == "none":
            return ""
        base = "deadline" if self.delay_from == "previous_deadline" else "completion"
        unit = self.delay_unit if self.delay_count != 1 else self.delay_unit.rstrip("s")
        return f"+{self.delay_count} {unit} after {base}"


# -- reading ---------------------------------------------------------------------------------


def _row(session: Session, kind: ActivityType, names: dict[int, str] | None = None,
         logins: dict[int, str] | None = None) -> ActivityTypeRow:
    if names is None or (kind.next_type_id and kind.next_type_id not in names):
        nxt = session.get(ActivityType, kind.next_type_id) if kind.next_type_id else None
        names = {nxt.id: nxt.name} if nxt else {}
    if logins is None or (kind.default_assignee_id and kind.default_assignee_id not in logins):
        login = (
            session.exec(select(User.login).where(User.id == kind.default_assignee_id)).first()
            if kind.default_assignee_id else None
        )
        logins = {kind.default_assignee_id: login} if login else {}
    return ActivityTypeRow(
        id=kind.id, name=kind.name, category=kind.category,
        default_assignee=logins.get(kind.default_assignee_id) if kind.default_assignee_id else None,
        default_summary=kind.default_summary, default_note=kind.default_note,
        default_reminder_minutes=kind.default_reminder_minutes, chaining=kind.chaining,
        next_type=names.get(kind.next_type_id) if kind.next_type_id else None,
        next_type_id=kind.next_type_id, delay_count=kind.delay_count, delay_unit=kind.delay_unit,
        delay_from=kind.delay_from, active=kind.active, version=kind.version or 1,
    )


def list_types(session: Session, *, include_inactive: bool = True) -> list[ActivityTypeRow]:
    """Every activity type, in the order they were added (the defaults' order first)."""
    statement = select(ActivityType).order_by(col(ActivityType.id))
    if not include_inactive:
        statement = statement.where(col(ActivityType.active))
    kinds = session.exec(statement).all()
    names = {k.id: k.name for k in kinds}
    logins = dict(session.exec(select(User.id, User.login)).all()) if any(
        k.default_assignee_id for k in kinds) else {}
    return [_row(session, k, names, logins) for k in kinds]


def load_type(session: Session, key: object, field: str = "type") -> ActivityType:
    """A type by id or by name (case-insensitive)."""
    text = ("" if key is None else str(key)).strip()
    if not text:
        raise ValidationError(field, "an activity type is required")
    found = session.get(ActivityType, int(text)) if text.isdigit() else session.exec(
        select(ActivityType).where(func.lower(ActivityType.name) == text.lower())
    ).first()
    if found is None:
        raise NotFound("activity type", text)
    return found


def get_type(session: Session, key: object) -> ActivityTypeRow:
    return _row(session, load_type(session, key))


# -- validating ------------------------------------------------------------------------------


def _choice(value: object, options: tuple[str, ...], aliases: dict[str, str], field: str) -> str:
    text = ("" if value is None else str(value)).strip().lower()
    return validation.choice(aliases.get(text, text), options, field)


def _clean(session: Session, raw: Mapping[str, object], own_id: int | None) -> dict[str, object]:
    """Validate the given fields into column values (only those present)."""
    unknown = set(raw) - set(TYPE_FIELDS)
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not an activity type field")
    out: dict[str, object] = {}
    if "name" in raw:
        name = validation.clean_text(raw["name"], "name", 100, required=True)
        clash = session.exec(
            select(ActivityType.id).where(func.lower(ActivityType.name) == name.lower())
        ).first()
        if clash is not None and clash != own_id:
            raise ValidationError("name", f"there is already an activity type named {name!r}")
        out["name"] = name
    if "category" in raw:
        out["category"] = _choice(raw["category"], CATEGORIES, _CATEGORY_ALIASES, "category")
    if "default_assignee" in raw:
        login = ("" if raw["default_assignee"] is None else str(raw["default_assignee"])).strip()
        if not login or login.lower() in ("none", "-", "nobody"):
            out["default_assignee_id"] = None
        else:
            user = session.exec(select(User).where(User.login == login)).first()
            if user is None:
                raise ValidationError("default_assignee", f"no user with login {login!r}")
            if not user.active:
                raise ValidationError("default_assignee", f"user {login!r} is deactivated")
            out["default_assignee_id"] = user.id
    if "default_summary" in raw:
        out["default_summary"] = validation.clean_text(raw["default_summary"], "default_summary", 200)
    if "default_note" in raw:
        out["default_note"] = validation.clean_text(raw["default_note"], "default_note", 20_000)
    if "default_reminder_minutes" in raw:
        value = raw["default_reminder_minutes"]
        out["default_reminder_minutes"] = (
            None if value is None or str(value).strip().lower() in ("", "none", "-")
            else validation.whole_number(value, "default_reminder_minutes", 0, MAX_REMINDER_MINUTES)
        )
    if "chaining" in raw:
        out["chaining"] = _choice(raw["chaining"], CHAINING, {}, "chaining")
    if "next_type" in raw:
        value = raw["next_type"]
        if value is None or str(value).strip().lower() in ("", "none", "-"):
            out["next_type_id"] = None
        else:
            try:
                out["next_type_id"] = load_type(session, value, "next_type").id
            except NotFound:
                if own_id is None and str(value).strip().lower() == str(raw.get("name", "")).strip().lower():
                    out["next_type_id"] = _SELF  # a new type that chains to itself
                else:
                    raise ValidationError("next_type", f"no activity type {str(value).strip()!r}") from None
    if "delay_count" in raw:
        out["delay_count"] = validation.whole_number(raw["delay_count"], "delay_count", 0, MAX_DELAY_COUNT)
    if "delay_unit" in raw:
        out["delay_unit"] = _choice(raw["delay_unit"], DELAY_UNITS, _UNIT_ALIASES, "delay_unit")
    if "delay_from" in raw:
        out["delay_from"] = _choice(raw["delay_from"], DELAY_FROM, _FROM_ALIASES, "delay_from")
    if "active" in raw:
        value = raw["active"]
        if isinstance(value, bool):
            out["active"] = value
        else:
            text = str(value).strip().lower()
            if text not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
                raise ValidationError("active", f"{value!r} is not yes or no")
            out["active"] = text in ("true", "yes", "1", "on")
    return out


_SELF = -1
"""Stands for the id of a type being added that names itself as its next type."""


def _check_chain(session: Session, kind: ActivityType) -> None:
    """The next type is required when chaining; no cycle of `trigger` links (it would never end)."""
    if kind.chaining == "none":
        return
    if kind.next_type_id is None:
        raise ValidationError("next_type", f"chaining {kind.chaining!r} needs the next activity type")
    if kind.chaining != "trigger":
        return
    if kind.next_type_id == _SELF:
        raise ValidationError(
            "next_type", f"{kind.name} → {kind.name} would trigger activities forever; "
            "make the link 'suggest' or 'none'",
        )
    # Only this type changed, so a new all-trigger cycle must pass through it: follow the
    # trigger links from it and see whether they come back.
    path = [kind.name]
    seen = {kind.id} if kind.id is not None else set()
    current_id = kind.next_type_id
    while current_id is not None:
        if current_id == kind.id or current_id in seen:
            nxt = kind if current_id == kind.id else session.get(ActivityType, current_id)
            path.append(nxt.name)
            raise ValidationError(
                "next_type",
                f"{' → '.join(path)} would trigger activities forever; "
                "make one link 'suggest' or 'none'",
            )
        seen.add(current_id)
        current = session.get(ActivityType, current_id)
        if current is None:
            return
        path.append(current.name)
        if current.chaining != "trigger":
            return
        current_id = current.next_type_id


def _subject(kind: ActivityType) -> str:
    return f"activity type {kind.name}"


# -- writing ---------------------------------------------------------------------------------


def add_type(session: Session, actor: Actor, values: Mapping[str, object]) -> ActivityType:
    """Validate and insert an activity type (admins only)."""
    check_admin(actor, "activity types")
    raw = dict(values)
    if "name" not in raw:
        raise ValidationError("name", "is required")
    if "category" not in raw:
        raise ValidationError("category", f"is required ({', '.join(CATEGORIES)})")
    cleaned = _clean(session, raw, None)
    to_self = cleaned.get("next_type_id") == _SELF
    kind = ActivityType(**cleaned)
    _check_chain(session, kind)
    if to_self:
        kind.next_type_id = None
    session.add(kind)
    session.flush()
    if to_self:
        kind.next_type_id = kind.id
        session.flush()
    history.record(session, actor, "create", subject=_subject(kind), new=kind.category)
    return kind


def edit_type(
    session: Session,
    actor: Actor,
    key: object,
    values: Mapping[str, object],
    *,
    expected_version: int | None = None,
) -> ActivityType:
    """Apply changed fields of a type (admins only). `expected_version`: the version the form
    loaded; if somebody saved since, a ConflictError says so and nothing is written."""
    check_admin(actor, "activity types")
    kind = load_type(session, key)
    if expected_version is not None and (kind.version or 1) != expected_version:
        raise ConflictError("activity type", kind.id, kind.version or 1)
    cleaned = _clean(session, values, kind.id)
    changes: dict[str, tuple[object, object]] = {}
    for name, value in cleaned.items():
        old = getattr(kind, name)
        if old != value:
            changes[name] = (old, value)
            setattr(kind, name, value)
    if not changes:
        return kind
    _check_chain(session, kind)
    session.add(kind)
    session.flush()
    history.record_changes(session, actor, changes, subject=_subject(kind))
    return kind
