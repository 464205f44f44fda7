"""The audit trail, read side, and the writes that must leave a trace after the record is gone.

- `list_history` / `count_history`: a contact's or an opportunity's history, newest first, in
  windows (`offset`/`limit`), as plain rows for the contact card and `crm history`.
- `delete_contacts`: permanent deletion of contacts; each leaves a `delete` history row with the
  contact's name and who deleted it (history has no foreign keys: the row outlives the contact),
  and so does each opportunity that goes with it.
- `record_status`, `record_merge`, `record_assignment`: the one spelling of those history rows,
  for the services that convert, close, archive, merge and assign.

Actions written to history (`HistoryEntry.action`): create, change (field, old, new), delete,
merge, status, assign, lock, unlock, activity_planned, activity_done, and whatever other services
add (mail, note, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from crm_tui.models import Contact, HistoryEntry, Opportunity
from crm_tui.services import history
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import contact_facts, decide

MAX_WINDOW = 500


@dataclass(frozen=True)
class HistoryRow:
    id: int
    at: datetime
    user: str
    """Login of who did it ("system" for the daemon and migrations)."""
    action: str
    subject: str
    field: str
    old_value: str
    new_value: str
    note: str
    contact_id: int | None
    opportunity_id: int | None
    activity_id: int | None

    @property
    def summary(self) -> str:
        """One line in words: "city: Olpe → Siegen", "delete contact 12 Müller"."""
        if self.action == "change" and self.field:
            return f"{self.field}: {self.old_value or '—'} → {self.new_value or '—'}"
        text = f"{self.action} {self.subject}".strip()
        if self.new_value and self.action not in ("create",):
            text += f" → {self.new_value}"
        return text


def _where(contact_id: int | None, opportunity_id: int | None):
    if (contact_id is None) == (opportunity_id is None):
        raise ValidationError("record", "give a contact or an opportunity (one of them)")
    if contact_id is not None:
        return col(HistoryEntry.contact_id) == contact_id
    return col(HistoryEntry.opportunity_id) == opportunity_id


def list_history(
    session: Session,
    actor: Actor,  # noqa: ARG001 - everybody sees every contact, and so its history
    *,
    contact_id: int | None = None,
    opportunity_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[HistoryRow]:
    """One window of the history of a contact (all of it, its opportunities' and activities'
    included) or of an opportunity, newest first. A deleted record's history stays readable."""
    if limit < 0 or limit > MAX_WINDOW:
        raise ValidationError("limit", f"must be between 0 and {MAX_WINDOW}")
    if offset < 0:
        raise ValidationError("offset", "must not be negative")
    statement = (
        select(HistoryEntry)
        .where(_where(contact_id, opportunity_id))
        .order_by(col(HistoryEntry.at).desc(), col(HistoryEntry.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [_row(e) for e in session.exec(statement).all()]


def _row(e: HistoryEntry) -> HistoryRow:
    return HistoryRow(
        id=e.id, at=e.at, user=e.user_login, action=e.action, subject=e.subject, field=e.field,
        old_value=e.old_value, new_value=e.new_value, note=e.note, contact_id=e.contact_id,
        opportunity_id=e.opportunity_id, activity_id=e.activity_id,
    )


def count_history(session: Session, *, contact_id: int | None = None, opportunity_id: int | None = None) -> int:
    return session.exec(
        select(func.count()).select_from(HistoryEntry).where(_where(contact_id, opportunity_id))
    ).one()


def history_exists(session: Session, *, contact_id: int | None = None, opportunity_id: int | None = None) -> bool:
    return session.exec(
        select(HistoryEntry.id).where(_where(contact_id, opportunity_id)).limit(1)
    ).first() is not None


# -- deletion --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletedContact:
    id: int
    name: str


def _display(contact: Contact) -> str:
    return f"{contact.name}, {contact.first_name}" if contact.first_name else contact.name


def delete_contacts(session: Session, actor: Actor, ids: Iterable[int]) -> list[DeletedContact]:
    """Delete contacts for good (with their opportunities, activities, attachments and group
    memberships), all or none: if the actor may not delete one of them, nothing is deleted and
    PermissionDenied names it. Each contact and opportunity leaves a `delete` history row."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        raise ValidationError("ids", "no contacts chosen")
    contacts = session.exec(select(Contact).where(col(Contact.id).in_(wanted))).all()
    found = {c.id: c for c in contacts}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound("contact", missing[0])
    refused = []
    for contact in contacts:
        decision = decide(actor, "delete", contact_facts(session, contact))
        if not decision:
            refused.append(decision.reason)
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise PermissionDenied(f"nothing deleted: {refused[0]}{more}")
    opportunities = session.exec(
        select(Opportunity.id, Opportunity.title, Opportunity.contact_id)
        .where(col(Opportunity.contact_id).in_(wanted))
    ).all()
    deleted = []
    for contact in sorted(contacts, key=lambda c: c.id):
        name = _display(contact)
        history.record(
            session, actor, "delete", contact_id=contact.id, subject=f"contact {contact.id} {name}",
            old=contact.status, note=f"deleted by {actor.login}",
        )
        deleted.append(DeletedContact(contact.id, name))
    for opp_id, title, contact_id in opportunities:
        history.record(
            session, actor, "delete", contact_id=contact_id, opportunity_id=opp_id,
            subject=f"opportunity {opp_id} {title}", note=f"deleted with contact {contact_id}",
        )
    session.flush()
    # The database cascades to activities, opportunities, attachments and group members.
    session.exec(delete(Contact).where(col(Contact.id).in_(wanted)))
    for contact in contacts:
        session.expunge(contact)
    return deleted


# -- the one spelling of the other audit rows ----------------------------------------------------


def _contact_subject(contact: Contact) -> str:
    return f"contact {contact.id} {_display(contact)}"


def record_status(session: Session, actor: Actor | None, contact: Contact, old: str, new: str,
                  note: str = "") -> None:
    """A contact's status change (convert, close with its reason as note, archive, restore)."""
    history.record(session, actor, "status", contact_id=contact.id, subject=_contact_subject(contact),
                   field="status", old=old, new=new, note=note)


def record_assignment(session: Session, actor: Actor | None, contact: Contact, old: str | None,
                      new: str | None) -> None:
    """A contact's new assignee (login, team:NAME, or everybody)."""
    history.record(session, actor, "assign", contact_id=contact.id, subject=_contact_subject(contact),
                   field="assigned_to", old=old or "everybody", new=new or "everybody")


def record_merge(session: Session, actor: Actor | None, survivor: Contact,
                 merged: Iterable[tuple[int, str]]) -> None:
    """Contacts merged into `survivor`: one row on the survivor per merged contact (id, name)
    and one on each merged contact's own id, so its history still says where it went."""
    for merged_id, merged_name in merged:
        history.record(session, actor, "merge", contact_id=survivor.id,
                       subject=_contact_subject(survivor), old=f"contact {merged_id} {merged_name}",
                       new=f"contact {survivor.id}")
        history.record(session, actor, "merge", contact_id=merged_id,
                       subject=f"contact {merged_id} {merged_name}", old=f"contact {merged_id}",
                       new=f"contact {survivor.id} {_display(survivor)}")


def history_of_deleted(session: Session, contact_id: int) -> HistoryRow | None:
    """The `delete` row of a contact that is gone (who deleted it, when, its name)."""
    entry = session.exec(
        select(HistoryEntry)
        .where(HistoryEntry.contact_id == contact_id, HistoryEntry.action == "delete",
               col(HistoryEntry.opportunity_id).is_(None))
        .order_by(col(HistoryEntry.id).desc())
    ).first()
    return None if entry is None else _row(entry)
