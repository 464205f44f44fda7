"""A contact's life: inbox -> prospect -> customer, archived and restored, closed with a reason.

Status changes happen only here (`update_contact` refuses them). Each transition works on a set of
contacts with a constant number of set-based statements per chunk of ids (an `UPDATE`, an
`INSERT ... SELECT` of history rows), so one contact from the card and 100,000 from a bulk action
take the same path; the caller's transaction makes it all or nothing. Before anything is written,
every contact is checked (it exists, its status allows the step, the actor may change it): one
refusal and nothing changes.

    review   inbox            -> prospect (or customer)   imported contacts become real ones
    convert  prospect         -> customer                 optionally copying the description
                                                          ("transfer notes") into the history
    close    prospect|customer -> closed                  needs a lost reason and a note
    archive  any but archived -> archived                 keeps everything
    restore  archived|closed  -> the status before        (stored in `previous_status`)

Closing and archiving cancel the contact's open activities: nobody is reminded about a contact
that is out of service; the activities stay in the history. Contacts already in the target status
are skipped, so every step can be repeated safely.

What each status allows (seed 002: inbox and archived contacts have "restricted functions") is
`STATUS_ACTIONS`; the UI greys out the rest and `check_action` refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, case, func, insert, literal, null, select, text, update
from sqlmodel import Session, col

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import (
    Activity,
    ActivityType,
    Contact,
    HistoryEntry,
    LostReason,
    TeamMember,
    User,
)
from crm_tui.models.base import UTCDateTime
from crm_tui.services import validation
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import ContactFacts, decide

Progress = Callable[[int, int], None]
"""`progress(done, total)`: called as a long operation advances (for a progress bar)."""

CHUNK = 1000
"""Contacts per set-based statement: well below every backend's limit on bound parameters."""

ACTIVE_STATUSES = ("inbox", "prospect", "customer")

STATUS_ACTIONS: dict[str, frozenset[str]] = {
    "inbox": frozenset({"edit", "review", "archive", "delete", "merge", "group", "assign", "export"}),
    "prospect": frozenset({
        "edit", "convert", "close", "archive", "delete", "merge", "group", "assign", "export",
        "plan", "opportunity", "mail",
    }),
    "customer": frozenset({
        "edit", "close", "archive", "delete", "merge", "group", "assign", "export", "plan",
        "opportunity", "mail",
    }),
    "archived": frozenset({"edit", "restore", "delete", "merge", "group", "export"}),
    "closed": frozenset({"edit", "restore", "archive", "delete", "merge", "group", "export"}),
}
"""What can be done to a contact of each status. Inbox contacts cannot be planned, mailed,
converted or given opportunities until reviewed; archived and closed ones until restored."""

_HINTS = {
    "inbox": "review it first",
    "archived": "restore it first",
    "closed": "restore it first",
}
_STATUS_WORDS = {
    "inbox": "in the inbox", "prospect": "a prospect", "customer": "a customer",
    "archived": "archived", "closed": "closed",
}


def allowed_actions(status: str) -> frozenset[str]:
    """The actions a contact in `status` allows (for enabling keys and buttons)."""
    return STATUS_ACTIONS.get(status, frozenset())


def status_refusal(contact_id: int | None, status: str, action: str) -> str | None:
    """Why a contact in `status` cannot have `action`, or None when it can."""
    if action in allowed_actions(status):
        return None
    label = f"contact {contact_id}" if contact_id is not None else "the contact"
    hint = _HINTS.get(status)
    if action == "review":
        hint = None
    if action == "restore":
        hint = "only archived and closed contacts are restored"
    text = f"{label} is {_STATUS_WORDS.get(status, status)}: it cannot be {_PAST.get(action, action)}"
    return f"{text}; {hint}" if hint else text


_PAST = {
    "review": "reviewed", "convert": "converted", "close": "closed", "archive": "archived",
    "restore": "restored", "plan": "given activities", "opportunity": "given opportunities",
    "mail": "mailed", "assign": "assigned", "delete": "deleted", "merge": "merged",
    "group": "grouped", "export": "exported", "edit": "edited",
}


def check_action(contact, action: str) -> None:
    """ValidationError (field `status`) unless the contact's status allows `action`.

    For the services of activities, opportunities and mail: `check_action(contact, "plan")`.
    """
    reason = status_refusal(getattr(contact, "id", None), contact.status, action)
    if reason:
        raise ValidationError("status", reason)


# -- lost reasons ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LostReasonRow:
    id: int
    name: str
    active: bool


def list_lost_reasons(session: Session, *, include_inactive: bool = False) -> list[LostReasonRow]:
    statement = select(LostReason).order_by(LostReason.name)
    if not include_inactive:
        statement = statement.where(col(LostReason.active))
    return [LostReasonRow(r.id, r.name, r.active) for r in session.exec(statement).scalars()]


def find_lost_reason(session: Session, value: object, field: str = "reason") -> LostReason:
    """An active lost reason by name (case-insensitive) or id.

    Reasons are a configured list (they feed the lost-reasons report), so an unknown one is
    refused rather than created: a typo must not become a new category.
    """
    text = ("" if value is None else str(value)).strip()
    if not text:
        raise ValidationError(field, "a lost reason is required")
    found = session.exec(select(LostReason).where(col(LostReason.name).ilike(text))).scalars().first()
    if found is None and text.isdigit():
        found = session.get(LostReason, int(text))
    if found is None or not found.active:
        known = [r.name for r in list_lost_reasons(session)]
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise ValidationError(field, f"{text!r} is not a lost reason (known: {shown or 'none'})")
    return found


# -- set-based machinery (shared with bulk.py) -------------------------------------------------


@dataclass(frozen=True)
class ContactState:
    """What the checks need about one selected contact."""

    id: int
    status: str
    assigned_user_id: int | None
    assigned_team_id: int | None
    locked_by_id: int | None
    locked_until: datetime | None
    customer_number: str | None


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


def load_states(session: Session, ids: Iterable[int]) -> list[ContactState]:
    """The selected contacts, in id order; NotFound for the first id that does not exist."""
    wanted = sorted({int(i) for i in ids})
    t = Contact.__table__.c
    found: dict[int, ContactState] = {}
    for chunk in chunks(wanted):
        for row in session.execute(
            select(t.id, t.status, t.assigned_user_id, t.assigned_team_id, t.locked_by_id,
                   t.locked_until, t.customer_number).where(t.id.in_(chunk))
        ).all():
            found[row[0]] = ContactState(*row)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound("contact", missing[0])
    return [found[i] for i in wanted]


def refuse(error: type[Exception], refusals: list[str], total: int, field: str = "status") -> None:
    """Raise one error for a set of refusals: the reason itself for one contact, else a count."""
    if not refusals:
        return
    if total == 1 and len(refusals) == 1:
        message = refusals[0]
    else:
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        message = f"{len(refusals)} of {total} selected contacts cannot be changed: {refusals[0]}{more}"
    if error is ValidationError:
        raise ValidationError(field, message)
    raise error(message)


def check_permissions(session: Session, actor: Actor, states: Sequence[ContactState], action: str) -> None:
    """PermissionDenied unless the actor may do `action` (a permissions action) to every one.

    The rules are `permissions.decide`, applied to facts gathered for the whole set at once.
    """
    if actor.is_admin or not states:
        return
    teams: dict[int, set[int]] = {}
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)).all():
        teams.setdefault(user_id, set()).add(team_id)
    logins = dict(session.execute(select(User.id, User.login)).all())
    now = clock.now()
    refusals = []
    for state in states:
        holder = state.locked_by_id
        facts = ContactFacts(
            id=state.id, status=state.status, assigned_user_id=state.assigned_user_id,
            assigned_team_id=state.assigned_team_id,
            assignee_team_ids=frozenset(teams.get(state.assigned_user_id, ())),
            locked_by_id=state.locked_by_id, locked_until=state.locked_until,
            lock_holder_login=logins.get(holder, "") if holder else "",
            lock_holder_team_ids=frozenset(teams.get(holder, ())) if holder else frozenset(),
        )
        decision = decide(actor, action, facts, now)
        if not decision:
            refusals.append(decision.reason)
    refuse(PermissionDenied, refusals, len(states))


def history_rows_from_contacts(
    session: Session,
    actor: Actor,
    ids: Sequence[int],
    action: str,
    *,
    field: str = "",
    old=None,
    new=None,
    note=None,
    where=None,
) -> None:
    """One history row per contact in `ids`, in one INSERT ... SELECT (values may be SQL)."""
    from crm_tui.services.duplicates import subject_expression

    t = Contact.__table__
    select_ = select(
        literal(clock.now(), UTCDateTime()),
        literal(actor.id, Integer),
        literal(actor.login, String),
        t.c.id,
        literal(action, String),
        subject_expression(t),
        literal(field, String),
        _sql_text(old),
        _sql_text(new),
        _sql_text(note),
    ).where(t.c.id.in_(ids))
    if where is not None:
        select_ = select_.where(where)
    h = HistoryEntry.__table__.c
    session.execute(insert(HistoryEntry.__table__).from_select(
        [h.at, h.user_id, h.user_login, h.contact_id, h.action, h.subject, h.field, h.old_value,
         h.new_value, h.note],
        select_,
    ))


def _sql_text(value):
    if value is None:
        return literal("", String)
    if isinstance(value, str):
        return literal(value, String)
    return func.coalesce(value, literal("", String))


def touched_values(now: datetime | None = None) -> dict[str, object]:
    """What every set-based change of contacts also sets: the version (stale forms notice) and
    the time of the change."""
    t = Contact.__table__.c
    return {"version": t.version + 1, "updated_at": now or clock.now()}


def cancel_open_activities(session: Session, actor: Actor, contact_ids: Sequence[int], note: str) -> int:
    """Cancel the planned activities of these contacts (history row each); returns how many."""
    from crm_tui.services.activities import touch_many

    a = Activity.__table__
    kinds = ActivityType.__table__
    rows = session.execute(
        select(a.c.id, a.c.opportunity_id).where(a.c.contact_id.in_(contact_ids), a.c.status == "planned")
    ).all()
    if not rows:
        return 0
    activity_ids = [r[0] for r in rows]
    h = HistoryEntry.__table__.c
    for chunk in chunks(activity_ids):
        subject = case(
            (a.c.summary != "", kinds.c.name + literal(": ") + a.c.summary), else_=kinds.c.name
        )
        session.execute(insert(HistoryEntry.__table__).from_select(
            [h.at, h.user_id, h.user_login, h.contact_id, h.opportunity_id, h.activity_id, h.action,
             h.subject, h.field, h.old_value, h.new_value, h.note],
            select(
                literal(clock.now(), UTCDateTime()), literal(actor.id, Integer),
                literal(actor.login, String), a.c.contact_id, a.c.opportunity_id, a.c.id,
                literal("activity_cancelled", String), func.substr(subject, 1, 300),
                literal("status", String), literal("planned", String), literal("cancelled", String),
                literal(note, String),
            ).select_from(a.join(kinds, kinds.c.id == a.c.type_id)).where(a.c.id.in_(chunk)),
        ))
        session.execute(
            update(a).where(a.c.id.in_(chunk))
            .values(status="cancelled", updated_at=clock.now(), version=a.c.version + 1)
        )
    touch_many(session, contact_ids, {r[1] for r in rows if r[1] is not None})
    return len(activity_ids)


@contextmanager
def row_triggers_once(session: Session, table_operations: Iterable[tuple[str, str]]) -> Iterator[None]:
    """SQLite: run row-independent triggers once per statement batch instead of once per row.

    A trigger whose body does not read the row (the change counter of 0003: `UPDATE meta SET
    value = value + 1`) costs ~50 µs a row, 5 s for a bulk action over 100,000 contacts, and
    does nothing that one run would not. Inside the caller's transaction such triggers on the
    given (table, operation) pairs are dropped, the work runs, each body runs once and the
    triggers are created again. SQLite's DDL is transactional: no other connection ever sees the
    tables without them, and a rollback restores them. Elsewhere (PostgreSQL, whose counter
    trigger already fires once per transaction) this does nothing.
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    suspended: list[tuple[str, str]] = []
    for table, operation in table_operations:
        for name, sql in session.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        ).all():
            body = _trigger_body(sql, operation)
            if body is not None:
                suspended.append((sql, body))
                session.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for sql, body in suspended:
        session.execute(text(body))
        session.execute(text(sql))


_TRIGGER = re.compile(
    r"^\s*CREATE\s+TRIGGER\s+.*?\bAFTER\s+(INSERT|UPDATE|DELETE)\s+ON\s+\"?(\w+)\"?\s+"
    r"(?:FOR\s+EACH\s+ROW\s+)?BEGIN\s+(.*?);?\s*END\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _trigger_body(sql: str | None, operation: str) -> str | None:
    """The single statement of an AFTER `operation` trigger that never reads NEW or OLD."""
    match = _TRIGGER.match(sql or "")
    if match is None or match.group(1).lower() != operation.lower():
        return None
    body = match.group(3).strip()
    if ";" in body or re.search(r"\b(new|old)\s*\.", body, re.IGNORECASE):
        return None
    return body


# -- transitions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionResult:
    """What a status change did."""

    action: str
    total: int
    """Contacts selected."""
    count: int
    """Contacts whose status changed."""
    skipped: int = 0
    """Contacts that were in the target status already (left alone)."""
    cancelled_activities: int = 0
    notes_transferred: int = 0
    numbers_assigned: int = 0
    ids: tuple[int, ...] = ()
    """The contacts that changed."""


def _prepare(
    session: Session, actor: Actor, ids: Iterable[int], action: str, is_done: Callable[[ContactState], bool]
) -> tuple[list[ContactState], list[ContactState]]:
    """(to change, already done): every contact exists, its status allows the step, the actor
    may change it; else nothing is written."""
    states = load_states(session, ids)
    done = [s for s in states if is_done(s)]
    todo = [s for s in states if not is_done(s)]
    refuse(ValidationError, [r for s in todo if (r := status_refusal(s.id, s.status, action))], len(states))
    check_permissions(session, actor, todo, "status")
    return todo, done


def _check_required(session: Session, ids: Sequence[int], status: str, settings: Settings) -> None:
    """The required fields of `status` are filled on every contact (as forms check them)."""
    t = Contact.__table__.c
    for name in settings.required.for_status(status):
        if name in ("status", "assigned_to") or name not in t:
            continue
        column = t[name]
        empty = column.is_(None)
        if _is_text(column):
            empty = empty | (func.trim(column) == "")
        for chunk in chunks(list(ids)):
            missing = session.execute(
                select(t.id).where(t.id.in_(chunk), empty).order_by(t.id).limit(1)
            ).scalar()
            if missing is not None:
                raise ValidationError(name, f"is required for a {status} (contact {missing} has none)")


BULK_TABLES = ("contacts", "history", "activities", "opportunities", "group_members", "attachments")
BULK_TRIGGERS = tuple((t, op) for t in BULK_TABLES for op in ("insert", "update", "delete"))
QUIET_THRESHOLD = 500
"""From this many contacts on, row-independent triggers run once (`row_triggers_once`)."""


@contextmanager
def bulk_statements(session: Session, count: int) -> Iterator[None]:
    """The setting for set-based statements over `count` contacts."""
    if count >= QUIET_THRESHOLD:
        with row_triggers_once(session, BULK_TRIGGERS):
            yield
    else:
        yield


def _is_text(column) -> bool:
    kind = column.type
    # sqlmodel's AutoString is a TypeDecorator around String, not a String itself
    return isinstance(kind, String) or isinstance(getattr(kind, "impl_instance", None), String)


def _run(session: Session, todo: Sequence[int], step: Callable[[list[int]], None],
         progress: Progress | None) -> None:
    total = len(todo)
    done = 0
    if progress:
        progress(0, total)
    with bulk_statements(session, total):
        for chunk in chunks(list(todo)):
            step(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)


def review(
    session: Session,
    actor: Actor,
    ids: Iterable[int],
    *,
    to_status: str = "prospect",
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> TransitionResult:
    """Imported (inbox) contacts become prospects (or customers) once a person has looked at
    them. The required fields of the new status must be filled (edit the contact first)."""
    settings = settings or get_settings()
    if to_status not in ("prospect", "customer"):
        raise ValidationError("status", f"{to_status!r}: reviewed contacts become prospect or customer")
    todo, done = _prepare(session, actor, ids, "review", lambda s: s.status == to_status)
    todo_ids = [s.id for s in todo]
    _check_required(session, todo_ids, to_status, settings)
    t = Contact.__table__

    def step(chunk: list[int]) -> None:
        history_rows_from_contacts(session, actor, chunk, "status", field="status", old=t.c.status,
                                   new=to_status, note="reviewed")
        session.execute(update(t).where(t.c.id.in_(chunk)).values(status=to_status, **touched_values()))

    _run(session, todo_ids, step, progress)
    session.expire_all()
    return TransitionResult("review", len(todo) + len(done), len(todo), len(done), ids=tuple(todo_ids))


def convert(
    session: Session,
    actor: Actor,
    ids: Iterable[int],
    *,
    transfer_notes: bool = False,
    customer_number: str | None = None,
    number_sequence: str | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> TransitionResult:
    """Prospects become customers (the UI asks for confirmation first).

    `transfer_notes` copies each prospect's description into its history as a note, so the
    customer's timeline starts with what was known about the prospect (seed 001: "Interessenten
    Notizen in das Kundenprofil übertragen"). `customer_number` (one contact only) or
    `number_sequence` (each contact without a number gets the sequence's next) sets the number.
    """
    from crm_tui.services.sequences import check_number_free, next_customer_number

    settings = settings or get_settings()
    todo, done = _prepare(session, actor, ids, "convert", lambda s: s.status == "customer")
    todo_ids = [s.id for s in todo]
    number = None
    if customer_number not in (None, ""):
        if len(todo) + len(done) != 1:
            raise ValidationError("customer_number", "give a number for one contact only; use a sequence for many")
        number = validation.clean_text(customer_number, "customer_number", 50)
    t = Contact.__table__
    numbers: dict[int, str] = {}
    if number is not None and todo:
        check_number_free(session, number, todo[0].id)
        numbers[todo[0].id] = number
    elif number_sequence is not None:
        for state in todo:
            if not state.customer_number:
                numbers[state.id] = next_customer_number(session, number_sequence)
    if numbers:
        _set_numbers(session, actor, numbers)
    _check_required(session, todo_ids, "customer", settings)
    transferred = 0

    def step(chunk: list[int]) -> None:
        nonlocal transferred
        if transfer_notes:
            has_notes = func.trim(t.c.description) != ""
            transferred += session.execute(
                select(func.count()).select_from(t).where(t.c.id.in_(chunk), has_notes)
            ).scalar()
            history_rows_from_contacts(session, actor, chunk, "note", field="description",
                                       note=t.c.description, new="transferred from the prospect",
                                       where=has_notes)
        history_rows_from_contacts(session, actor, chunk, "status", field="status", old=t.c.status,
                                   new="customer", note="converted")
        session.execute(update(t).where(t.c.id.in_(chunk)).values(status="customer", **touched_values()))

    _run(session, todo_ids, step, progress)
    session.expire_all()
    return TransitionResult("convert", len(todo) + len(done), len(todo), len(done),
                            notes_transferred=transferred, numbers_assigned=len(numbers), ids=tuple(todo_ids))


def _set_numbers(session: Session, actor: Actor, numbers: Mapping[int, str]) -> None:
    """Give contacts customer numbers, keeping their search key in step (it holds the number)."""
    from crm_tui.services.contacts import DERIVED_SOURCES, derived_values
    from crm_tui.services.history import record

    for contact_id, number in numbers.items():
        contact = session.get(Contact, contact_id)
        old = contact.customer_number
        contact.customer_number = number
        for name, value in derived_values({f: getattr(contact, f) for f in DERIVED_SOURCES}).items():
            setattr(contact, name, value)
        contact.updated_at = clock.now()
        session.add(contact)
        record(session, actor, "change", contact_id=contact_id, field="customer_number", old=old, new=number,
               subject=f"contact {contact_id} {contact.name}")
    session.flush()


def close(
    session: Session,
    actor: Actor,
    ids: Iterable[int],
    reason: object,
    note: object,
    *,
    progress: Progress | None = None,
) -> TransitionResult:
    """The service ended (seed 003): status closed, with a lost reason and a note, both in the
    history and counted by the lost-reasons report. Open activities are cancelled."""
    lost = find_lost_reason(session, reason)
    text = validation.clean_text(note, "note", 20_000)
    if not text:
        raise ValidationError("note", "say in a few words why the service ended")
    todo, done = _prepare(session, actor, ids, "close", lambda s: s.status == "closed")
    todo_ids = [s.id for s in todo]
    t = Contact.__table__
    cancelled = 0

    def step(chunk: list[int]) -> None:
        nonlocal cancelled
        # As audit.record_status spells it: the reason (and the note) on the status row.
        history_rows_from_contacts(session, actor, chunk, "status", field="status", old=t.c.status,
                                   new="closed", note=f"{lost.name}: {text}")
        session.execute(update(t).where(t.c.id.in_(chunk)).values(
            status="closed", previous_status=t.c.status, lost_reason_id=lost.id, close_note=text,
            **touched_values(),
        ))
        cancelled += cancel_open_activities(session, actor, chunk, "contact closed")

    _run(session, todo_ids, step, progress)
    session.expire_all()
    return TransitionResult("close", len(todo) + len(done), len(todo), len(done),
                            cancelled_activities=cancelled, ids=tuple(todo_ids))


def _reason_name(t):
    reasons = LostReason.__table__
    return (
        select(reasons.c.name).where(reasons.c.id == t.c.lost_reason_id).scalar_subquery()
    )


def archive(
    session: Session, actor: Actor, ids: Iterable[int], *, progress: Progress | None = None
) -> TransitionResult:
    """Out of the active list, keeping all data and history; `restore` brings it back.
    Open activities are cancelled."""
    todo, done = _prepare(session, actor, ids, "archive", lambda s: s.status == "archived")
    todo_ids = [s.id for s in todo]
    t = Contact.__table__
    cancelled = 0

    def step(chunk: list[int]) -> None:
        nonlocal cancelled
        history_rows_from_contacts(session, actor, chunk, "status", field="status", old=t.c.status,
                                   new="archived")
        session.execute(update(t).where(t.c.id.in_(chunk)).values(
            status="archived", previous_status=t.c.status, **touched_values(),
        ))
        cancelled += cancel_open_activities(session, actor, chunk, "contact archived")

    _run(session, todo_ids, step, progress)
    session.expire_all()
    return TransitionResult("archive", len(todo) + len(done), len(todo), len(done),
                            cancelled_activities=cancelled, ids=tuple(todo_ids))


def restored_status_expression(t=None):
    """SQL for the status a contact returns to: the one it had before (`previous_status`), else
    the active status it last left for its current one (the history: closed, archived, restored
    and restored again still ends where it began), else customer when it has a customer number,
    else prospect."""
    t = t if t is not None else Contact.__table__
    h = HistoryEntry.__table__.c
    known = ("inbox", "prospect", "customer", "archived", "closed")
    remembered = (
        select(h.old_value)
        .where(h.contact_id == t.c.id, h.action == "status", h.new_value == t.c.status,
               h.old_value.in_(ACTIVE_STATUSES))
        .order_by(h.at.desc(), h.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return case(
        ((t.c.previous_status.in_(known)) & (t.c.previous_status != t.c.status), t.c.previous_status),
        (remembered.is_not(None), remembered),
        (t.c.customer_number.is_not(None) & (t.c.customer_number != ""), literal("customer")),
        else_=literal("prospect"),
    )


def restore(
    session: Session, actor: Actor, ids: Iterable[int], *, progress: Progress | None = None
) -> TransitionResult:
    """Archived or closed contacts return to the status they had before. A closed contact's
    lost reason and note are cleared (they stay in the history)."""
    todo, done = _prepare(session, actor, ids, "restore", lambda s: s.status in ACTIVE_STATUSES)
    todo_ids = [s.id for s in todo]
    t = Contact.__table__
    target = restored_status_expression(t)

    def step(chunk: list[int]) -> None:
        history_rows_from_contacts(session, actor, chunk, "status", field="status", old=t.c.status,
                                   new=target, note="restored")
        history_rows_from_contacts(session, actor, chunk, "change", field="lost_reason",
                                   old=_reason_name(t), new="", where=t.c.lost_reason_id.is_not(None))
        session.execute(update(t).where(t.c.id.in_(chunk)).values(
            status=target, previous_status="",
            lost_reason_id=case((t.c.status == "closed", null()), else_=t.c.lost_reason_id),
            close_note=case((t.c.status == "closed", literal("")), else_=t.c.close_note),
            **touched_values(),
        ))

    _run(session, todo_ids, step, progress)
    session.expire_all()
    return TransitionResult("restore", len(todo) + len(done), len(todo), len(done), ids=tuple(todo_ids))


# -- one contact (the card, `crm contacts convert 12`) -----------------------------------------


def review_contact(session: Session, actor: Actor, contact_id: int, *, to_status: str = "prospect",
                   settings: Settings | None = None):
    review(session, actor, [contact_id], to_status=to_status, settings=settings)
    return _detail(session, actor, contact_id)


def convert_contact(
    session: Session,
    actor: Actor,
    contact_id: int,
    *,
    transfer_notes: bool = False,
    customer_number: str | None = None,
    number_sequence: str | None = None,
    settings: Settings | None = None,
):
    """Prospect -> customer; returns the contact's detail (a `ContactDetail`)."""
    convert(session, actor, [contact_id], transfer_notes=transfer_notes, customer_number=customer_number,
            number_sequence=number_sequence, settings=settings)
    return _detail(session, actor, contact_id)


def close_contact(session: Session, actor: Actor, contact_id: int, reason: object, note: object):
    close(session, actor, [contact_id], reason, note)
    return _detail(session, actor, contact_id)


def archive_contact(session: Session, actor: Actor, contact_id: int):
    archive(session, actor, [contact_id])
    return _detail(session, actor, contact_id)


def restore_contact(session: Session, actor: Actor, contact_id: int):
    restore(session, actor, [contact_id])
    return _detail(session, actor, contact_id)


def _detail(session: Session, actor: Actor, contact_id: int):
    from crm_tui.services.contacts import get_contact

    return get_contact(session, actor, contact_id)
