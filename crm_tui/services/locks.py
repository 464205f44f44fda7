"""Prospect locks: who holds one, and releasing it (managers and admins).

A new prospect is locked to the rep who created it (see `contacts.create_contact`); the lock
ends by itself after the lock period, when the prospect stops being a prospect, or when a manager
releases it here. Every release is a history row `unlock`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.models import Contact, User
from crm_tui.services import history
from crm_tui.services.errors import NotFound
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import contact_facts, lock_holder, require


@dataclass(frozen=True)
class LockInfo:
    contact_id: int
    locked_by: str | None
    """Login of the holder, or None when the contact is not locked (now)."""
    locked_until: datetime | None

    @property
    def locked(self) -> bool:
        return self.locked_by is not None


def lock_info(session: Session, contact_id: int) -> LockInfo:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("contact", contact_id)
    holder = lock_holder(contact)
    if holder is None:
        return LockInfo(contact_id, None, None)
    login = session.exec(select(User.login).where(col(User.id) == holder)).first()
    return LockInfo(contact_id, login, contact.locked_until)


def release_lock(session: Session, actor: Actor, contact_id: int) -> LockInfo:
    """End a prospect's lock now (manager within their teams, or admin). Returns the lock as it was.

    Releasing a contact that is not locked changes nothing and writes no history.
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("contact", contact_id)
    facts = contact_facts(session, contact)
    require(actor, "release_lock", facts)
    before = LockInfo(contact_id, facts.lock_holder_login or None, contact.locked_until)
    if lock_holder(contact) is None:
        if contact.locked_by_id is not None or contact.locked_until is not None:
            # an expired lock: tidy it away quietly
            contact.locked_by_id = None
            contact.locked_until = None
            session.add(contact)
            session.flush()
        return LockInfo(contact_id, None, None)
    name = f"{contact.name}, {contact.first_name}" if contact.first_name else contact.name
    history.record(
        session, actor, "unlock", contact_id=contact.id, subject=f"contact {contact.id} {name}",
        field="locked_by", old=f"{before.locked_by} until {before.locked_until.date().isoformat()}",
        new="",
    )
    contact.locked_by_id = None
    contact.locked_until = None
    contact.updated_at = clock.now()
    session.add(contact)
    session.flush()
    return before
