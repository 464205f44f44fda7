"""Rows of the contact list as plain data, in a module that imports nothing heavy.

The app shows the list's first rows before SQLAlchemy has loaded (`crm_tui.quick`); both that
path and `services.contacts.list_contacts` make their rows with this class.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContactRow:
    """One line of the contact list."""

    id: int
    kind: str
    name: str
    first_name: str
    company: str
    status: str
    city: str
    phone: str
    email: str
    assigned_to: str | None
    """Login of the assignee, `team:NAME` for a team, None for everybody."""
    state: str
    customer_number: str | None

    @property
    def display_name(self) -> str:
        return f"{self.name}, {self.first_name}" if self.first_name else self.name


def assigned_label(login: str | None, team: str | None) -> str | None:
    """How an assignment reads: the login, `team:NAME`, or None for everybody."""
    if login:
        return login
    if team:
        return f"team:{team}"
    return None
