"""Who may do what. One module, applied alike by the app, the command line and the daemon.

- Everybody sees every contact (seed 001: anyone must be able to check whether a customer exists).
- A rep edits contacts assigned to them, to one of their teams, or to everybody, unless the
  contact is a prospect locked to somebody else.
- A manager edits everything assigned within their teams (and unassigned), and releases locks.
- An admin edits everything and configures pipelines, activity types and users.
"""

from __future__ import annotations

from datetime import datetime

from crm_tui import clock
from crm_tui.services.errors import PermissionDenied
from crm_tui.services.identity import Actor


def lock_holder(contact, now: datetime | None = None) -> int | None:
    """The user a prospect is locked to right now, if any."""
    now = now or clock.now()
    if contact.locked_by_id and contact.locked_until and contact.locked_until > now:
        return contact.locked_by_id
    return None


def check_contact_edit(actor: Actor, contact, *, lock_owner_login: str = "", team_member_ids=None) -> None:
    """Raise PermissionDenied unless `actor` may change `contact`."""
    if actor.is_admin:
        return
    holder = lock_holder(contact)
    if holder is not None and holder != actor.id and not actor.is_manager:
        until = contact.locked_until.date().isoformat()
        raise PermissionDenied(
            f"contact {contact.id}: locked by {lock_owner_login or 'another rep'} until {until}"
        )
    user_id, team_id = contact.assigned_user_id, contact.assigned_team_id
    if user_id is None and team_id is None:
        return
    if user_id == actor.id or (team_id is not None and team_id in actor.team_ids):
        return
    if actor.is_manager and team_member_ids is not None and user_id in team_member_ids:
        return
    raise PermissionDenied(f"contact {contact.id}: assigned to someone else; ask them or a manager")


def check_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"{what}: only an admin may change this")


def check_manager(actor: Actor, what: str) -> None:
    if not actor.is_manager:
        raise PermissionDenied(f"{what}: only a manager may do this")
