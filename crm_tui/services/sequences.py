"""Number sequences (Nummernkreise): customer numbers such as `K-2026-00042` on demand.

A sequence has a prefix (which may hold `{year}`, `{yy}` or `{month}`), a padding and the next
value. Taking a number is one conditional-free `UPDATE ... SET next_value = next_value + 1
RETURNING next_value`: the row lock (PostgreSQL) or the write lock (SQLite) serialises takers, so
two sessions never get the same value. A number that is already some contact's customer number
(typed by hand) is skipped: the sequence hands out only free numbers. Numbers taken and then not
used leave gaps, as in every CRM; uniqueness is what matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.models import Contact, NumberSequence
from crm_tui.services import history, validation
from crm_tui.services.errors import ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import check_configure

PLACEHOLDERS = ("year", "yy", "month")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_SKIPS = 10_000
"""How many taken numbers in a row a sequence steps over before it gives up."""


@dataclass(frozen=True)
class SequenceRow:
    id: int
    name: str
    prefix: str
    padding: int
    next_value: int
    preview: str
    """The number the sequence would hand out next (today)."""


def format_number(prefix: str, padding: int, value: int, today: date) -> str:
    text = (prefix or "").replace("{year}", f"{today.year:04d}").replace("{yy}", f"{today.year % 100:02d}")
    text = text.replace("{month}", f"{today.month:02d}")
    return f"{text}{value:0{max(padding, 0)}d}"


def _today(today: date | None) -> date:
    from crm_tui.config import get_settings

    return today or clock.today(get_settings().general.timezone)


def _row(sequence: NumberSequence, today: date) -> SequenceRow:
    return SequenceRow(
        id=sequence.id, name=sequence.name, prefix=sequence.prefix, padding=sequence.padding,
        next_value=sequence.next_value,
        preview=format_number(sequence.prefix, sequence.padding, sequence.next_value, today),
    )


def list_sequences(session: Session, today: date | None = None) -> list[SequenceRow]:
    day = _today(today)
    rows = session.exec(select(NumberSequence).order_by(NumberSequence.id)).all()
    return [_row(s, day) for s in rows]


def find_sequence(session: Session, ref: object | None = None, field: str = "sequence") -> NumberSequence:
    """By name (case-insensitive) or id; None means the first (default) sequence."""
    text = "" if ref is None else str(ref).strip()
    statement = select(NumberSequence)
    if not text:
        found = session.exec(statement.order_by(NumberSequence.id)).first()
        if found is None:
            raise ValidationError(field, "no number sequence is configured")
        return found
    found = session.exec(statement.where(col(NumberSequence.name).ilike(text))).first()
    if found is None and text.isdigit():
        found = session.get(NumberSequence, int(text))
    if found is None:
        names = ", ".join(session.exec(select(NumberSequence.name).order_by(NumberSequence.id)).all())
        raise ValidationError(field, f"no number sequence {text!r} (known: {names or 'none'})")
    return found


def _clean(values: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    if "name" in values:
        out["name"] = validation.clean_text(values["name"], "name", 100, required=True)
    if "prefix" in values:
        prefix = validation.clean_text(values["prefix"], "prefix", 50)
        for match in _PLACEHOLDER.finditer(prefix):
            if match.group(1) not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise ValidationError("prefix", f"{match.group(0)} is not one of {known}")
        out["prefix"] = prefix
    if "padding" in values:
        out["padding"] = validation.whole_number(values["padding"], "padding", 0, 20)
    if "next_value" in values:
        out["next_value"] = validation.whole_number(values["next_value"], "next_value", 0, 10**15)
    return out


def create_sequence(
    session: Session, actor: Actor, name: str, *, prefix: str = "", padding: int = 5, next_value: int = 1
) -> SequenceRow:
    check_configure(actor, "number sequences")
    cleaned = _clean({"name": name, "prefix": prefix, "padding": padding, "next_value": next_value})
    if session.exec(select(NumberSequence.id).where(col(NumberSequence.name).ilike(cleaned["name"]))).first():
        raise ValidationError("name", f"a number sequence {cleaned['name']!r} exists already")
    sequence = NumberSequence(**cleaned)
    session.add(sequence)
    session.flush()
    history.record(session, actor, "create", subject=f"number sequence {sequence.name}",
                   new=format_number(sequence.prefix, sequence.padding, sequence.next_value, _today(None)))
    return _row(sequence, _today(None))


def update_sequence(session: Session, actor: Actor, ref: object, values: dict[str, object]) -> SequenceRow:
    check_configure(actor, "number sequences")
    unknown = set(values) - {"name", "prefix", "padding", "next_value"}
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not a number sequence field")
    sequence = find_sequence(session, ref)
    cleaned = _clean(values)
    changes = {}
    for name, value in cleaned.items():
        if getattr(sequence, name) != value:
            changes[name] = (getattr(sequence, name), value)
            setattr(sequence, name, value)
    if changes:
        session.add(sequence)
        session.flush()
        history.record_changes(session, actor, changes, subject=f"number sequence {sequence.name}")
    return _row(sequence, _today(None))


def peek_customer_number(session: Session, sequence_name: object | None = None, today: date | None = None) -> str:
    """The number `next_customer_number` would give now, without taking it (a form's hint)."""
    sequence = find_sequence(session, sequence_name)
    day = _today(today)
    value = sequence.next_value
    for _ in range(MAX_SKIPS):
        number = format_number(sequence.prefix, sequence.padding, value, day)
        if not _taken(session, number):
            return number
        value += 1
    raise ValidationError("customer_number", f"sequence {sequence.name!r}: no free number found")


def next_customer_number(session: Session, sequence_name: object | None = None, *, today: date | None = None) -> str:
    """Take the next free number of a sequence (by name or id; None: the default sequence).

    Atomic: the increment is one UPDATE in the caller's transaction. Numbers already used as a
    customer number are stepped over.
    """
    sequence = find_sequence(session, sequence_name, "customer_number")
    sequence_id, prefix, padding = sequence.id, sequence.prefix, sequence.padding
    day = _today(today)
    table = NumberSequence.__table__
    for _ in range(MAX_SKIPS):
        taken = session.execute(
            update(table)
            .where(table.c.id == sequence_id)
            .values(next_value=table.c.next_value + 1, version=table.c.version + 1)
            .returning(table.c.next_value)
        ).scalar_one()
        number = format_number(prefix, padding, taken - 1, day)
        if not _taken(session, number):
            session.expire(sequence)
            return number
    raise ValidationError("customer_number", f"sequence {sequence.name!r}: no free number found")


def _taken(session: Session, number: str) -> bool:
    return session.exec(select(Contact.id).where(col(Contact.customer_number) == number)).first() is not None


def check_number_free(session: Session, number: str | None, own_id: int | None = None) -> None:
    """Customer numbers are unique: ValidationError naming the contact that has it."""
    if not number:
        return
    clash = session.exec(
        select(Contact.id).where(col(Contact.customer_number) == number, col(Contact.id) != (own_id or -1))
    ).first()
    if clash is not None:
        raise ValidationError("customer_number", f"{number!r} already belongs to contact {clash}")
