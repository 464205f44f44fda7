"""A one-line banner for a locked prospect: "Locked by anna until 2027-05-23", and for a manager
the key that releases the lock (`services.locks.release_lock`, in a thread worker).

Given lock info, not a query: anything with `locked_by` (a login, or None when not locked) and
`locked_until` (`services.locks.LockInfo`, `services.contacts.ContactDetail`). Hidden when the
contact is not locked.

Mounting it on a card:

    yield LockBanner(contact_id, id="card-lock")            # in compose, above the master data
    self.query_one(LockBanner).show(contact)                 # whenever the contact is (re)loaded
                                                             # (or .show_lock(login, until))

and, to release from the banner (a card may instead release through its own confirm dialog):

    BINDINGS = [..., LockBanner.release_binding("card.release_lock")]
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

RELEASE_KEY = "u"
"""Releases the lock (managers and admins): the key the banner names (the contact card's)."""


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

    def __init__(self, contact_id: int | None = None, *, id: str | None = None,
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

    def show_lock(self, locked_by: str | None, locked_until: datetime | None, *,
                  can_release: bool | None = None) -> None:
        """`show()` with the two values instead of an object."""
        self.locked_by, self.locked_until = locked_by, locked_until
        self.show(self, can_release=can_release)

    @property
    def locked(self) -> bool:
        return self.locked_by is not None

    def banner_text(self) -> Text:
        if not self.locked:
            return Text("")
        workspace = getattr(self.app, "workspace", None)
        mine = workspace is not None and workspace.actor.login == self.locked_by
        until = f" until {self.locked_until:%Y-%m-%d}" if self.locked_until is not None else ""
        text = Text(no_wrap=False)
        if mine:
            text.append(f"Locked to you{until}", style="bold")
            text.append(" — other reps may not take it over or plan activities on it", style="dim")
        else:
            text.append(f"Locked by {self.locked_by}{until}", style="bold")
            if not self.can_release:
                text.append(" — only they or a manager may change it or plan activities on it",
                            style="dim")
        if self.can_release:
            text.append(f" — {RELEASE_KEY} releases the lock", style="dim")
        return text

    def release(self) -> None:
        """Release the lock (a manager's or admin's action); the service says why if not allowed."""
        workspace = getattr(self.app, "workspace", None)
        if workspace is None:
            return
        if not self.locked or self.contact_id is None:
            self.notify("This contact is not locked.")
            return
        self._release(workspace, self.contact_id)

    @work(thread=True, exclusive=True, exit_on_error=False, name="release lock")
    def _release(self, workspace, contact_id: int) -> None:
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.locks import release_lock

        try:
            before = workspace.write(lambda s: release_lock(s, workspace.actor, contact_id))
        except ServiceError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", title="Not released")
            return
        self.app.call_from_thread(self._released, before.locked_by)

    def _released(self, was_locked_by: str | None) -> None:
        self.show(None)
        self.notify(f"Lock of {was_locked_by} released." if was_locked_by else "No lock to release.")
        self.post_message(self.Released(self.contact_id, was_locked_by))
