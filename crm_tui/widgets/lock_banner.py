"""A one-line banner for a locked prospect: "Locked by anna until 2027-05-23", and for a manager
the key that releases the lock (`services.locks.release_lock`, in a thread worker).

Given lock info, not a query: anything with `locked_by` (a login, or None when not locked) and
`locked_until` (`services.locks.LockInfo`, `services.contacts.ContactDetail`). Hidden when the
contact is not locked.

Mounting it on a card (three lines and a binding):

    BINDINGS = [..., LockBanner.release_binding("card.release_lock")]
    yield LockBanner(contact_id, id="card-lock")            # in compose, above the master data
    self.query_one(LockBanner).show(contact)                 # whenever the contact is (re)loaded
    def action_release_lock(self): self.query_one(LockBanner).release()

`LockBanner.Released` bubbles up once the lock is gone: reload the card on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

RELEASE_KEY = "U"
"""Shift+u: release the lock (managers and admins)."""


class HasLock(Protocol):
    @property
    def locked_by(self) -> str | None: ...

    @property
    def locked_until(self) -> datetime | None: ...


class LockBanner(ReportsWorkerErrors, Static):
    """"Locked by X until DATE" above a contact, with the release key for those who may."""

    DEFAULT_CSS = """
    LockBanner {
        height: auto;
        padding: 0 1;
        background: $warning-muted;
        color: $foreground;
        display: none;
    }
    LockBanner.-locked {
        display: block;
    }
    """

    class Released(Message):
        """The lock was released (the card should reload)."""

        def __init__(self, contact_id: int, was_locked_by: str | None) -> None:
            super().__init__()
            self.contact_id = contact_id
            self.was_locked_by = was_locked_by

    @staticmethod
    def release_binding(binding_id: str = "card.release_lock") -> Binding:
        """The binding a card adds for `action_release_lock` (its id is the card's to choose)."""
        return Binding(RELEASE_KEY, "release_lock", "Release lock", id=binding_id)

    def __init__(self, contact_id: int, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self.contact_id = contact_id
        self.locked_by: str | None = None
        self.locked_until: datetime | None = None
        self.can_release = False

    def show(self, lock: HasLock | None, *, can_release: bool | None = None) -> None:
        """Show `lock` (None or not locked: hide). `can_release` defaults to "the acting user is a
        manager or admin"; the service still checks (a manager outside the teams is told why)."""
        self.locked_by = getattr(lock, "locked_by", None) if lock is not None else None
        self.locked_until = getattr(lock, "locked_until", None) if lock is not None else None
        if can_release is None:
            workspace = getattr(self.app, "workspace", None)
            can_release = workspace is not None and workspace.actor.is_manager
        self.can_release = bool(can_release)
        self.set_class(self.locked, "-locked")
        self.update(self.banner_text())

    @property
    def locked(self) -> bool:
        return self.locked_by is not None

    def banner_text(self) -> Text:
        if not self.locked:
            return Text("")
        text = Text(no_wrap=False)
        text.append(f"Locked by {self.locked_by}", style="bold")
        if self.locked_until is not None:
            text.append(f" until {self.locked_until:%Y-%m-%d}", style="bold")
        if self.can_release:
            text.append(f"   {RELEASE_KEY} releases the lock", style="dim")
        else:
            text.append("   only they, a manager or an admin may change it", style="dim")
        return text

    def release(self) -> None:
        """Release the lock (a manager's or admin's action); the service says why if not allowed."""
        workspace = getattr(self.app, "workspace", None)
        if workspace is None:
            return
        if not self.locked:
            self.notify("This contact is not locked.")
            return
        self._release(workspace)

    @work(thread=True, exclusive=True, exit_on_error=False, name="release lock")
    def _release(self, workspace) -> None:
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.locks import release_lock

        try:
            before = workspace.write(lambda s: release_lock(s, workspace.actor, self.contact_id))
        except ServiceError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", title="Not released")
            return
        self.app.call_from_thread(self._released, before.locked_by)

    def _released(self, was_locked_by: str | None) -> None:
        self.show(None)
        self.notify(f"Lock of {was_locked_by} released." if was_locked_by else "No lock to release.")
        self.post_message(self.Released(self.contact_id, was_locked_by))
