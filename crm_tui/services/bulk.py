"""Bulk actions on a selection of contacts: add to group, new group, assign, change status,
archive, restore, delete, export.

A `Selection` is what the contact list has marked: explicit ids (space, invert), or "everything
matching this filter" minus the ones unmarked again (select all). Each action resolves it to ids
once, checks every contact (exists, its status allows the action, the actor may do it) and then
changes them with set-based statements in chunks, calling `progress(done, total)` between chunks.
It runs in the caller's transaction: `workspace.write(lambda s: bulk.archive(s, actor, sel))` is
all or nothing, one refusal and nothing is written.

From the app: run it in a thread worker (`@work(thread=True)`), pass a progress callback that
posts to the UI with `call_from_thread`, and reload the list when it returns a `BulkResult`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import String, case, cast, func, literal, select, update
from sqlalchemy import delete as sa_delete
from sqlmodel import Session, col

from crm_tui import clock
from crm_tui.config import Settings
from crm_tui.models import Contact, HistoryEntry, LostReason, Opportunity, Team, User
from crm_tui.services import lifecycle
from crm_tui.services.errors import ValidationError
from crm_tui.services.groups import GroupRow, add_member_ids, create_group, find_group, get_group
from crm_tui.services.identity import Actor
from crm_tui.services.lifecycle import (
    Progress,
    TransitionResult,
    bulk_statements,
    check_permissions,
    chunks,
    history_rows_from_contacts,
    load_states,
    refuse,
    status_refusal,
    touched_values,
)
from crm_tui.services.query import Filter

EXPORT_WINDOW = 2000


@dataclass(frozen=True)
class Selection:
    """Marked contacts: explicit `ids`, or all matching `filter` except `excluded`."""

    ids: frozenset[int] = frozenset()
    filter: Filter | None = None
    excluded: frozenset[int] = frozenset()

    @classmethod
    def of(cls, ids: Iterable[int]) -> Selection:
        return cls(ids=frozenset(int(i) for i in ids))

    @classmethod
    def matching(cls, filt: Filter, excluded: Iterable[int] = ()) -> Selection:
        return cls(filter=filt, excluded=frozenset(int(i) for i in excluded))

    @property
    def is_all_matching(self) -> bool:
        return self.filter is not None

    def describe(self) -> str:
        if self.filter is None:
            return f"{len(self.ids)} marked contacts"
        text = self.filter.text() or "all contacts"
        return f"all matching {text!r}" + (f" except {len(self.excluded)}" if self.excluded else "")


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did."""

    action: str
    total: int
    """Contacts selected."""
    count: int
    """Contacts changed (added, assigned, archived, deleted, exported, ...)."""
    skipped: int = 0
    """Contacts that needed no change (already a member, already archived, ...)."""
    cancelled_activities: int = 0
    notes_transferred: int = 0
    group: GroupRow | None = None
    """The group added to (or created)."""
    details: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of_transition(cls, result: TransitionResult) -> BulkResult:
        return cls(result.action, result.total, result.count, result.skipped,
                   result.cancelled_activities, result.notes_transferred)


def resolve(session: Session, actor: Actor, selection: Selection) -> list[int]:
    """The selected contact ids, ascending. Explicit ids are taken as given (each action checks
    that they exist); a filter is evaluated now, once."""
    from crm_tui.services.search import contact_conditions

    if selection.filter is None:
        return sorted(selection.ids)
    t = Contact.__table__
    ids = session.execute(
        select(t.c.id).where(*contact_conditions(session, actor, selection.filter)).order_by(t.c.id)
    ).scalars().all()
    if selection.excluded:
        return [i for i in ids if i not in selection.excluded]
    return list(ids)


def count_selected(session: Session, actor: Actor, selection: Selection) -> int:
    """How many contacts an action would touch (for "Delete 1,234 contacts?")."""
    if selection.filter is None:
        return len(selection.ids)
    from crm_tui.services.contacts import count_contacts

    total = count_contacts(session, actor, selection.filter)
    if selection.excluded:
        from crm_tui.services.search import contact_conditions

        t = Contact.__table__
        inside = 0
        for chunk in chunks(sorted(selection.excluded)):
            inside += session.execute(
                select(func.count()).select_from(t)
                .where(t.c.id.in_(chunk), *contact_conditions(session, actor, selection.filter))
            ).scalar()
        total -= inside
    return total


def _nothing(action: str) -> ValidationError:
    return ValidationError("selection", f"{action}: no contacts are selected")


def _checked(session: Session, actor: Actor, selection: Selection, action: str, permission: str | None):
    ids = resolve(session, actor, selection)
    if not ids:
        raise _nothing(action)
    states = load_states(session, ids)
    refuse(ValidationError, [r for s in states if (r := status_refusal(s.id, s.status, action))], len(states))
    if permission:
        check_permissions(session, actor, states, permission)
    return states


# -- groups ------------------------------------------------------------------------------------


def add_to_group(
    session: Session, actor: Actor, selection: Selection, group: object, *, progress: Progress | None = None
) -> BulkResult:
    """Add the selection to a static group (members already in it are skipped)."""
    target = find_group(session, group)
    if target.kind != "static":
        raise ValidationError("group", f"group {target.name!r} is dynamic: its members come from its query")
    states = _checked(session, actor, selection, "group", None)
    ids = [s.id for s in states]
    added = 0
    for chunk in _progress_chunks(session, ids, progress):
        added += add_member_ids(session, target.id, chunk)
    return BulkResult("add_to_group", len(ids), added, len(ids) - added, group=get_group(session, actor, target.id))


def new_group(
    session: Session,
    actor: Actor,
    selection: Selection,
    name: object,
    *,
    number: object = "",
    assigned_to: object = None,
    progress: Progress | None = None,
) -> BulkResult:
    """A new static group holding the selection (seed 002: "Neue Gruppe")."""
    states = _checked(session, actor, selection, "group", None)
    group = create_group(session, actor, name, number=number, assigned_to=assigned_to)
    ids = [s.id for s in states]
    added = 0
    for chunk in _progress_chunks(session, ids, progress):
        added += add_member_ids(session, group.id, chunk)
    return BulkResult("new_group", len(ids), added, group=get_group(session, actor, group.id))


def _progress_chunks(session: Session, ids: list[int], progress: Progress | None) -> Iterator[list[int]]:
    """Chunks of `ids` for set-based statements, reporting progress before the first and after
    each one."""
    done = 0
    if progress:
        progress(0, len(ids))
    with bulk_statements(session, len(ids)):
        for chunk in chunks(ids):
            yield chunk
            done += len(chunk)
            if progress:
                progress(done, len(ids))


# -- assignment --------------------------------------------------------------------------------


def _assignee_label(t):
    """SQL for a contact's assignee as history writes it: login, team:NAME or everybody."""
    users, teams = User.__table__, Team.__table__
    login = select(users.c.login).where(users.c.id == t.c.assigned_user_id).scalar_subquery()
    team = select(teams.c.name).where(teams.c.id == t.c.assigned_team_id).scalar_subquery()
    return case(
        (t.c.assigned_user_id.is_not(None), login),
        (t.c.assigned_team_id.is_not(None), literal("team:", String) + team),
        else_=literal("everybody", String),
    )


def assign(
    session: Session, actor: Actor, selection: Selection, assigned_to: object, *,
    progress: Progress | None = None,
) -> BulkResult:
    """Assign the selection to a user (`login`), a team (`team:NAME`) or everybody."""
    from crm_tui.services.contacts import resolve_assignee

    user_id, team_id = resolve_assignee(session, assigned_to)
    if user_id is not None:
        label = session.execute(select(User.login).where(col(User.id) == user_id)).scalar()
    elif team_id is not None:
        label = "team:" + session.execute(select(Team.name).where(col(Team.id) == team_id)).scalar()
    else:
        label = "everybody"
    states = _checked(session, actor, selection, "assign", "assign")
    todo = [s.id for s in states if (s.assigned_user_id, s.assigned_team_id) != (user_id, team_id)]
    t = Contact.__table__
    for chunk in _progress_chunks(session, todo, progress):
        history_rows_from_contacts(session, actor, chunk, "assign", field="assigned_to",
                                   old=_assignee_label(t), new=label)
        session.execute(update(t).where(t.c.id.in_(chunk)).values(
            assigned_user_id=user_id, assigned_team_id=team_id, **touched_values()
        ))
    session.expire_all()
    return BulkResult("assign", len(states), len(todo), len(states) - len(todo))


# -- status ------------------------------------------------------------------------------------


def archive(session: Session, actor: Actor, selection: Selection, *, progress: Progress | None = None) -> BulkResult:
    ids = _ids_or_refuse(session, actor, selection, "archive")
    return BulkResult.of_transition(lifecycle.archive(session, actor, ids, progress=progress))


def restore(session: Session, actor: Actor, selection: Selection, *, progress: Progress | None = None) -> BulkResult:
    ids = _ids_or_refuse(session, actor, selection, "restore")
    return BulkResult.of_transition(lifecycle.restore(session, actor, ids, progress=progress))


def _ids_or_refuse(session: Session, actor: Actor, selection: Selection, action: str) -> list[int]:
    ids = resolve(session, actor, selection)
    if not ids:
        raise _nothing(action)
    return ids


CHANGEABLE_STATUSES = ("prospect", "customer", "archived", "closed")


def change_status(
    session: Session,
    actor: Actor,
    selection: Selection,
    status: str,
    *,
    reason: object = None,
    note: object = None,
    transfer_notes: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> BulkResult:
    """Move the selection to `status` by the lifecycle's steps:

    - prospect: inbox contacts are reviewed;
    - customer: inbox contacts are reviewed as customers, prospects converted;
    - archived: archive; closed: close (needs `reason` and `note`).

    Contacts already in `status` are skipped; one that cannot make the step (an archived one to
    customer: restore it first) refuses the whole action.
    """
    target = (status or "").strip().lower()
    if target not in CHANGEABLE_STATUSES:
        raise ValidationError("status", f"{status!r}: choose one of {', '.join(CHANGEABLE_STATUSES)}")
    ids = _ids_or_refuse(session, actor, selection, "change status")
    if target == "archived":
        return BulkResult.of_transition(lifecycle.archive(session, actor, ids, progress=progress))
    if target == "closed":
        return BulkResult.of_transition(lifecycle.close(session, actor, ids, reason, note, progress=progress))
    states = load_states(session, ids)
    steps = {"inbox": "review", "prospect": "convert" if target == "customer" else None}
    refusals = []
    for state in states:
        if state.status == target:
            continue
        step = steps.get(state.status)
        reason_text = status_refusal(state.id, state.status, step) if step else None
        if step is None or reason_text:
            reason_text = reason_text or (
                f"contact {state.id} is {state.status}: it cannot become a {target}"
                + ("; restore it first" if state.status in ("archived", "closed") else "")
            )
            refusals.append(reason_text)
    refuse(ValidationError, refusals, len(states))
    inbox = [s.id for s in states if s.status == "inbox"]
    prospects = [s.id for s in states if s.status == "prospect" and target == "customer"]
    total = len(states)
    reviewed = converted = None
    done_before = 0

    def sub_progress(offset: int):
        if progress is None:
            return None
        return lambda done, _total: progress(offset + done, len(inbox) + len(prospects))

    if inbox:
        reviewed = lifecycle.review(session, actor, inbox, to_status=target, settings=settings,
                                    progress=sub_progress(0))
        done_before = len(inbox)
    if prospects:
        converted = lifecycle.convert(session, actor, prospects, transfer_notes=transfer_notes,
                                      settings=settings, progress=sub_progress(done_before))
    changed = (reviewed.count if reviewed else 0) + (converted.count if converted else 0)
    return BulkResult(
        "change_status", total, changed, total - changed,
        notes_transferred=converted.notes_transferred if converted else 0,
    )


# -- deletion ----------------------------------------------------------------------------------


def delete(session: Session, actor: Actor, selection: Selection, *, progress: Progress | None = None) -> BulkResult:
    """Delete the selection for good, with its opportunities, activities, attachments and group
    memberships (the database cascades). Each contact and each of its opportunities leaves a
    `delete` history row with its name and who deleted it, spelled as `audit.delete_contacts`
    spells them; here set-based, for 100,000 contacts at once. Ask first, naming the count
    (`count_selected`)."""
    states = _checked(session, actor, selection, "delete", "delete")
    ids = [s.id for s in states]
    t = Contact.__table__
    for chunk in _progress_chunks(session, ids, progress):
        history_rows_from_contacts(session, actor, chunk, "delete", old=t.c.status,
                                   note=f"deleted by {actor.login}")
        _opportunity_delete_rows(session, actor, chunk)
        session.execute(sa_delete(t).where(t.c.id.in_(chunk)))
    session.expire_all()
    return BulkResult("delete", len(ids), len(ids))


def _opportunity_delete_rows(session: Session, actor: Actor, contact_ids: list[int]) -> None:
    from sqlalchemy import Integer, insert

    from crm_tui.models.base import UTCDateTime

    o = Opportunity.__table__
    h = HistoryEntry.__table__
    session.execute(insert(h).from_select(
        [h.c.at, h.c.user_id, h.c.user_login, h.c.contact_id, h.c.opportunity_id, h.c.action, h.c.subject,
         h.c.field, h.c.old_value, h.c.new_value, h.c.note],
        select(
            literal(clock.now(), UTCDateTime()), literal(actor.id, Integer), literal(actor.login, String),
            o.c.contact_id, o.c.id, literal("delete", String),
            func.substr(literal("opportunity ", String) + cast(o.c.id, String) + literal(" ", String) + o.c.title,
                        1, 300),
            literal("", String), literal("", String), literal("", String),
            literal("deleted with contact ", String) + cast(o.c.contact_id, String),
        ).where(o.c.contact_id.in_(contact_ids)),
    ))


# -- export ------------------------------------------------------------------------------------


def export_records(
    session: Session, actor: Actor, selection: Selection, *, progress: Progress | None = None
) -> Iterator[dict[str, object]]:
    """The selected contacts as exchange records (`exchange.EXPORT_FIELDS`), in id order,
    read in windows."""
    from crm_tui.services.states import state_of_due

    ids = resolve(session, actor, selection)
    logins = dict(session.execute(select(User.id, User.login)).all())
    teams = dict(session.execute(select(Team.id, Team.name)).all())
    reasons = dict(session.execute(select(LostReason.id, LostReason.name)).all())
    today = actor.today()
    t = Contact.__table__
    columns = [t.c[name] for name in (
        "id", "kind", "name", "first_name", "company", "email", "phone", "mobile", "street",
        "postal_code", "city", "region", "country", "source", "description", "expected_revenue",
        "currency", "contacted_on", "customer_number", "assigned_user_id", "assigned_team_id",
        "status", "next_activity_due", "created_at", "lost_reason_id",
    )]
    done = 0
    if progress:
        progress(0, len(ids))
    for chunk in chunks(ids, EXPORT_WINDOW):
        rows = session.execute(select(*columns).where(t.c.id.in_(chunk)).order_by(t.c.id)).mappings().all()
        for row in rows:
            record = dict(row)
            user_id, team_id = record.pop("assigned_user_id"), record.pop("assigned_team_id")
            record["assigned_to"] = (
                logins.get(user_id) if user_id else (f"team:{teams.get(team_id)}" if team_id else None)
            )
            record["state"] = state_of_due(record.pop("next_activity_due"), today).value
            reason_id = record.pop("lost_reason_id")
            record["lost_reason"] = reasons.get(reason_id) if reason_id else None
            yield record
        done += len(chunk)
        if progress:
            progress(done, len(ids))


def export_contacts(
    session: Session,
    actor: Actor,
    selection: Selection,
    fmt: str,
    out: TextIO,
    *,
    progress: Progress | None = None,
) -> BulkResult:
    """Write the selection to `out` as csv, json or vcf; returns how many were written."""
    from crm_tui.services.exchange import contact_record, writer_for

    write = writer_for(fmt)
    count = write((contact_record(r) for r in export_records(session, actor, selection, progress=progress)), out)
    return BulkResult("export", count, count)
