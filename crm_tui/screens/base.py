"""What every main screen shares: the navigation bar, the footer, the "opening the database…"
line, and the hand-over of the workspace once the app has opened it.

The app opens the database in a worker after the first paint and then posts `WorkspaceReady`
to every main screen mounted so far; a screen mounted later finds `app.workspace` already set.
Either way the screen's `workspace_ready(workspace)` runs exactly once.

When others change data (another session, the daemon, a command), the app posts `DataChanged`
to the screen on top; a main screen underneath a form or card, or in another mode, is only
marked stale and refreshes when it is shown again. `data_changed()` reloads in place (ctrl+r).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from crm_tui.widgets.navbar import NavBar
from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.workspace import Workspace


class WorkspaceReady(Message, bubble=False):
    """The database is open (migrated, defaults installed) and the acting user known.

    Posted to the app, which hands it on to each main screen (it does not bubble back).
    """

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace


class DataChanged(Message, bubble=False):
    """Somebody wrote to the database since the screen last drew (the app's change-counter poll):
    fetch the visible data again, in place.

    Posted by the app to the screen on top only (never to a form: a form open on a record is not
    refreshed under the rep's fingers). Any screen may handle it, e.g. a contact card.
    """

    def __init__(self, version: int | None = None) -> None:
        super().__init__()
        self.version = version
        """The change counter that was read (None: a stale screen being shown again)."""


class WorkspaceFailed(Message):
    """Opening the workspace failed with an error meant for people."""

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title = title
        self.text = text


class WorkspaceProgress(Message):
    """A line of progress while the workspace opens ("creating demo data… 40%")."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class MainScreen(ReportsWorkerErrors, Screen):
    """Base of the five main screens (one per app mode)."""

    MODE: str = ""
    """The app mode this screen is the base of."""

    BINDINGS = [
        Binding("ctrl+r", "reload", "Reload", show=False, id="screen.reload"),
    ]

    DEFAULT_CSS = """
    MainScreen #workspace-status {
        height: 1;
        padding: 0 1;
        background: $warning-muted;
        color: $foreground;
        display: none;
    }
    MainScreen.-waiting #workspace-status {
        display: block;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ready_seen = False
        self._data_stale = False

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield Static(id="workspace-status")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between the navigation bar and the footer."""
        return iter(())

    @property
    def workspace(self) -> Workspace | None:
        return getattr(self.app, "workspace", None)

    def on_mount(self) -> None:
        register = getattr(self.app, "register_main_screen", None)
        if register is not None:
            register(self)
        self.watch(self.app, "workspace_status", self._show_workspace_status, init=True)
        if self.workspace is not None:
            self.call_after_refresh(self._hand_over, self.workspace)

    def _show_workspace_status(self, text: str) -> None:
        self.query_one("#workspace-status", Static).update(text)
        self.set_class(bool(text), "-waiting")

    def on_workspace_ready(self, message: WorkspaceReady) -> None:
        self._hand_over(message.workspace)

    def _hand_over(self, workspace: Workspace) -> None:
        if self._ready_seen:
            return
        self._ready_seen = True
        self.workspace_ready(workspace)

    def workspace_ready(self, workspace: Workspace) -> None:
        """Load the screen's data (override). Runs once, on the event loop: start workers here."""

    # -- refresh when others change data ----------------------------------------------------

    def mark_data_stale(self) -> None:
        """Others changed data while this screen was not on top: refresh when it is shown."""
        self._data_stale = True

    def on_screen_resume(self) -> None:
        if self._data_stale:
            self.post_message(DataChanged())

    def on_data_changed(self, message: DataChanged) -> None:
        self._data_stale = False
        if self._ready_seen:  # before that, its first load is still to come
            self.data_changed()

    def data_changed(self) -> None:
        """Reload what is shown, keeping the cursor and the filters (override for something finer;
        override this, not `on_data_changed`: Textual calls a handler of every class in the MRO)."""
        self.action_reload()

    def action_reload(self) -> None:
        if self.workspace is not None:
            self.reload()

    def reload(self) -> None:
        """Fetch the screen's data again (override)."""
