"""Contact groups: static ones (a name, a number, an assignee and listed members) and dynamic ones
(a stored filter query, seed 002: "aus diesen Parametern eine dynamische Gruppe erstellen").

Both appear in the contact list's sidebar; choosing one applies `group_filter(group)`, the same
`group:"NAME"` term a person can type. A dynamic group's query is validated when it is saved, by
parsing and compiling it, so a group never holds a query that cannot run.

Anybody may create groups and add or remove members (groups are shared working lists); renaming,
re-querying and deleting a group is for its creator, its assignee, a manager or an admin.
Adding many members at once ("add to group", "new group from selection") is in `bulk`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session, col

from crm_tui import clock
from crm_tui.models import Contact, ContactGroup, GroupMember, User
from crm_tui.services import history, validation
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.query import Filter, QuerySyntaxError, Term, parse

GROUP_FIELDS = ("name", "number", "assigned_to", "query")


@dataclass(frozen=True)
class GroupRow:
    id: int
    name: str
    number: str
    kind: str
    """static or dynamic."""
    query: str
    """A dynamic group's filter; empty for a static group."""
    assigned_to: str | None
    """Login of the user responsible for the group."""
    created_by: str | None
    members: int | None
    """Member count of a static group (None for a dynamic one unless counted on request)."""

    @property
    def filter_text(self) -> str:
        """What the filter bar shows when the group is chosen."""
        return Term("group", self.name).text()


def group_filter(group: GroupRow | ContactGroup, *, all_statuses: bool = False) -> Filter:
    """The filter that shows a group's members (archived/closed hidden unless `all_statuses`)."""
    terms = [Term("group", group.name)]
    if all_statuses:
        terms.append(Term("status", "all"))
    return Filter(tuple(terms))


def _logins(session: Session) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.login)).all())


def _row(group: ContactGroup, logins: Mapping[int, str], members: int | None) -> GroupRow:
    return GroupRow(
        id=group.id, name=group.name, number=group.number, kind=group.kind, query=group.query,
        assigned_to=logins.get(group.assigned_user_id) if group.assigned_user_id else None,
        created_by=logins.get(group.created_by_id) if group.created_by_id else None,
        members=members,
    )


def list_groups(session: Session, actor: Actor | None = None, *, count_dynamic: bool = False) -> list[GroupRow]:
    """Every group, by name, with member counts (dynamic ones only with `count_dynamic`:
    counting a filter over a million contacts is not free)."""
    counts = dict(session.execute(
        select(GroupMember.group_id, func.count()).group_by(GroupMember.group_id)
    ).all())
    logins = _logins(session)
    rows = []
    for group in session.exec(select(ContactGroup).order_by(func.lower(ContactGroup.name))).scalars():
        members: int | None = counts.get(group.id, 0) if group.kind == "static" else None
        if group.kind == "dynamic" and count_dynamic and actor is not None:
            members = count_members(session, actor, group.id)
        rows.append(_row(group, logins, members))
    return rows


def find_group(session: Session, ref: object, field: str = "group") -> ContactGroup:
    """A group by id, name (case-insensitive) or number."""
    text = ("" if ref is None else str(ref)).strip()
    if not text:
        raise ValidationError(field, "name a group")
    found = None
    if text.isdigit():
        found = session.get(ContactGroup, int(text))
    if found is None:
        found = session.exec(
            select(ContactGroup).where(func.lower(ContactGroup.name) == text.lower())
        ).scalars().first()
    if found is None:
        found = session.exec(select(ContactGroup).where(col(ContactGroup.number) == text)).scalars().first()
    if found is None:
        raise NotFound("group", repr(text))
    return found


def get_group(session: Session, actor: Actor, ref: object) -> GroupRow:
    group = find_group(session, ref)
    members = None
    if group.kind == "static":
        members = session.execute(
            select(func.count()).select_from(GroupMember).where(col(GroupMember.group_id) == group.id)
        ).scalar()
    return _row(group, _logins(session), members)


def _clean(session: Session, actor: Actor, values: Mapping[str, object], own_id: int | None) -> dict[str, object]:
    unknown = set(values) - set(GROUP_FIELDS)
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not a group field")
    out: dict[str, object] = {}
    if "name" in values:
        name = validation.clean_text(values["name"], "name", 100, required=True)
        clash = session.execute(
            select(ContactGroup.id).where(func.lower(ContactGroup.name) == name.lower(),
                                          col(ContactGroup.id) != (own_id or -1))
        ).scalar()
        if clash is not None:
            raise ValidationError("name", f"a group {name!r} exists already")
        out["name"] = name
    if "number" in values:
        number = validation.clean_text(values["number"], "number", 50)
        if number:
            clash = session.execute(
                select(ContactGroup.name).where(col(ContactGroup.number) == number,
                                                col(ContactGroup.id) != (own_id or -1))
            ).scalar()
            if clash is not None:
                raise ValidationError("number", f"{number!r} is the number of group {clash!r}")
        out["number"] = number
    if "assigned_to" in values:
        out["assigned_user_id"] = _assignee(session, values["assigned_to"])
    if "query" in values:
        out["query"] = check_query(session, actor, values["query"], own_id)
    return out


def _assignee(session: Session, value: object) -> int | None:
    from crm_tui.services.contacts import resolve_assignee

    user_id, team_id = resolve_assignee(session, value)
    if team_id is not None:
        raise ValidationError("assigned_to", "a group is assigned to one user (a login), not a team")
    return user_id


def check_query(session: Session, actor: Actor, query: object, own_id: int | None = None) -> str:
    """A dynamic group's query, parsed and compiled (unknown users, teams or groups refused)."""
    from crm_tui.services.search import contact_conditions

    text = validation.clean_text(query, "query", 2000)
    if not text:
        raise ValidationError("query", "a dynamic group needs a filter query, e.g. city:Olpe status:customer")
    try:
        parsed = parse(text, actor.today())
        seen = frozenset({own_id}) if own_id is not None else frozenset()
        contact_conditions(session, actor, parsed, seen)
    except QuerySyntaxError as error:
        raise QuerySyntaxError(error.position, error.reason, field="query") from None
    if parsed.is_empty:
        raise ValidationError("query", "a dynamic group needs a filter query, e.g. city:Olpe status:customer")
    return text


def _check_manage(session: Session, actor: Actor, group: ContactGroup) -> None:
    if actor.is_manager or actor.id in (group.created_by_id, group.assigned_user_id):
        return
    who = _logins(session).get(group.created_by_id or -1, "its creator")
    raise PermissionDenied(f"group {group.name!r}: only {who}, its assignee or a manager may change it")


def create_group(
    session: Session,
    actor: Actor,
    name: object,
    *,
    number: object = "",
    assigned_to: object = None,
    query: object = None,
) -> GroupRow:
    """A static group, or a dynamic one when `query` is given."""
    values: dict[str, object] = {"name": name, "number": number or ""}
    if assigned_to not in (None, ""):
        values["assigned_to"] = assigned_to
    dynamic = query not in (None, "")
    if dynamic:
        values["query"] = query
    cleaned = _clean(session, actor, values, None)
    group = ContactGroup(kind="dynamic" if dynamic else "static", created_by_id=actor.id,
                         created_at=clock.now(), **cleaned)
    session.add(group)
    session.flush()
    history.record(session, actor, "create", subject=f"group {group.name}", new=group.kind,
                   note=group.query)
    return _row(group, _logins(session), 0 if not dynamic else None)


def update_group(session: Session, actor: Actor, ref: object, values: Mapping[str, object]) -> GroupRow:
    group = find_group(session, ref)
    _check_manage(session, actor, group)
    if "query" in values and group.kind == "static":
        raise ValidationError("query", f"group {group.name!r} is static: its members are listed, not queried")
    cleaned = _clean(session, actor, values, group.id)
    changes = {}
    for name, value in cleaned.items():
        if getattr(group, name) != value:
            changes[name] = (getattr(group, name), value)
            setattr(group, name, value)
    if changes:
        session.add(group)
        session.flush()
        history.record_changes(session, actor, changes, subject=f"group {group.name}")
    return get_group(session, actor, group.id)


def delete_group(session: Session, actor: Actor, ref: object) -> GroupRow:
    """Delete a group (its contacts stay; only the membership goes)."""
    group = find_group(session, ref)
    _check_manage(session, actor, group)
    row = get_group(session, actor, group.id)
    session.execute(delete(GroupMember.__table__).where(GroupMember.__table__.c.group_id == group.id))
    history.record(session, actor, "delete", subject=f"group {group.name}", old=group.kind, note=group.query)
    session.delete(group)
    session.flush()
    return row


def _static(session: Session, ref: object) -> ContactGroup:
    group = ref if isinstance(ref, ContactGroup) else find_group(session, ref)
    if group.kind != "static":
        raise ValidationError(
            "group", f"group {group.name!r} is dynamic: its members come from its query ({group.query})"
        )
    return group


def _ids(contact_ids: Iterable[object]) -> list[int]:
    out = []
    for value in contact_ids:
        try:
            out.append(int(str(value).strip()))
        except ValueError:
            raise ValidationError("contact_id", f"{value!r} is not a contact id") from None
    return sorted(set(out))


def add_members(session: Session, actor: Actor, ref: object, contact_ids: Iterable[object]) -> int:
    """Add contacts to a static group; returns how many were not members yet."""
    from crm_tui.services.lifecycle import load_states

    group = _static(session, ref)
    ids = _ids(contact_ids)
    load_states(session, ids)  # every one exists (NotFound names the first that does not)
    return add_member_ids(session, group.id, ids)


def add_member_ids(session: Session, group_id: int, ids: Iterable[int]) -> int:
    """Insert the memberships that are missing (ids known to exist), set-based."""
    from crm_tui.services.lifecycle import chunks

    added = 0
    members = GroupMember.__table__
    contacts = Contact.__table__
    for chunk in chunks(sorted(set(ids))):
        missing = (
            select(group_id_literal(group_id), contacts.c.id)
            .where(contacts.c.id.in_(chunk))
            .where(~select(members.c.contact_id).where(
                members.c.group_id == group_id, members.c.contact_id == contacts.c.id
            ).exists())
        )
        already = session.execute(
            select(func.count()).select_from(members)
            .where(members.c.group_id == group_id, members.c.contact_id.in_(chunk))
        ).scalar()
        # (rowcount of INSERT ... SELECT is not reported by every driver: count instead)
        session.execute(insert(members).from_select([members.c.group_id, members.c.contact_id], missing))
        added += len(chunk) - already
    return added


def group_id_literal(group_id: int):
    from sqlalchemy import Integer, literal

    return literal(group_id, Integer)


def remove_members(session: Session, actor: Actor, ref: object, contact_ids: Iterable[object]) -> int:
    """Remove contacts from a static group; returns how many were members."""
    from crm_tui.services.lifecycle import chunks

    group = _static(session, ref)
    removed = 0
    members = GroupMember.__table__
    for chunk in chunks(_ids(contact_ids)):
        result = session.execute(
            delete(members).where(members.c.group_id == group.id, members.c.contact_id.in_(chunk))
        )
        removed += result.rowcount or 0
    return removed


def list_members(
    session: Session, actor: Actor, ref: object, *, sort: str = "name", offset: int = 0, limit: int = 60
):
    """One window of a group's members (`ContactRow`s). A static group lists every member, a
    dynamic one what its query finds."""
    from crm_tui.services.contacts import list_contacts

    group = find_group(session, ref)
    return list_contacts(session, actor, group_filter(group, all_statuses=group.kind == "static"),
                         sort=sort, offset=offset, limit=limit)


def count_members(session: Session, actor: Actor, ref: object) -> int:
    from crm_tui.services.contacts import count_contacts

    group = find_group(session, ref)
    return count_contacts(session, actor, group_filter(group, all_statuses=group.kind == "static"))
