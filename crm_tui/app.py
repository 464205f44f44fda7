"""CrmApp: the five main screens (as app modes), the global keys and the command palette.

The first paint never waits for the database: the Contacts screen mounts at once, the workspace
opens in a thread worker (creating the demo data on `crm --demo`'s first run) and arrives as a
`WorkspaceReady` message that the screens react to. Nothing here imports SQLAlchemy, SQLModel or
the services at module level; they load inside the worker.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, ScreenStackError
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from crm_tui.screens.base import (
    DataChanged,
    MainScreen,
    WorkspaceFailed,
    WorkspaceProgress,
    WorkspaceReady,
)
from crm_tui.screens.contacts import ContactsScreen
from crm_tui.screens.palette import CrmCommands

if TYPE_CHECKING:
    from crm_tui.workspace import Workspace

log = logging.getLogger("crm_tui.app")
log.propagate = False

DATA_POLL_SECONDS = 2.5
"""How often the change counter is read (one primary-key read in a thread; see `poll_data_version`)."""
REMINDER_POLL_SECONDS = 30
"""How often due reminders are looked for (and the status counts refreshed)."""
NOTICE_LOOKBACK = timedelta(minutes=15)
"""The first poll of a session shows reminders that came due this long before it started."""
NOTICE_PAGE = 20
NOTICES_AT_ONCE = 5
"""More new reminders than this in one poll: the rest are summed up in one notification."""
NOTICE_SECONDS = 15
FIRST_ROWS_WAIT = 1.0
"""Seconds the workspace waits at most for the quick first rows (crm_tui.quick) to be painted."""
FIRST_ROWS_POLL = 0.005


class _FirstRows(threading.Thread):
    """Reads the contact list's first rows with `crm_tui.quick` while Textual starts up."""

    def __init__(self, db_target: str | os.PathLike[str] | None, login: str | None) -> None:
        super().__init__(name="crm-first-rows", daemon=True)
        self.db_target = db_target
        self.login = login
        self.source = None
        """A `QuickContacts` with its first window read, or None (the workspace path)."""
        self.start()

    def run(self) -> None:
        try:
            from crm_tui.login import acting_login
            from crm_tui.quick import open_quick
            from crm_tui.widgets.virtual_table import WINDOW

            source = open_quick(self.db_target, self.login or acting_login())
            if source is not None:
                source.prefetch(WINDOW)
            self.source = source
        except Exception:  # noqa: BLE001 - only a shortcut: the workspace reports real problems
            self.source = None


def _later(module: str, name: str):
    """A screen factory for `App.MODES` that imports the screen's module when first called."""

    def make():
        from importlib import import_module

        return getattr(import_module(module), name)()

    make.__qualname__ = name
    return make


class CrmApp(App[None]):
    """The crm-tui terminal app."""

    CSS_PATH = "app.tcss"
    TITLE = "crm"

    MODES: ClassVar = {
        "contacts": ContactsScreen,
        # The other screens load when first shown: importing them all before the first paint
        # costs about 80 ms (issue 8).
        "board": _later("crm_tui.screens.board", "BoardScreen"),
        "activities": _later("crm_tui.screens.activities", "ActivitiesScreen"),
        "calendar": _later("crm_tui.screens.calendar", "CalendarScreen"),
        "settings": _later("crm_tui.screens.settings", "SettingsScreen"),
        "reports": _later("crm_tui.screens.reports", "ReportsScreen"),
    }
    DEFAULT_MODE = "contacts"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "show('contacts')", "Contacts", show=False, id="app.contacts"),
        Binding("f3", "show('board')", "Board", show=False, id="app.board"),
        Binding("f4", "show('activities')", "Activities", show=False, id="app.activities"),
        Binding("f5", "show('calendar')", "Calendar", show=False, id="app.calendar"),
        Binding("f6", "show('settings')", "Settings", show=False, id="app.settings"),
        Binding("f7", "show('reports')", "Reports", show=False, id="app.reports"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True,
                id="app.palette"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
        Binding("q", "quit", "Quit", show=False, id="app.quit_q"),
        Binding("ctrl+c", "help_quit", show=False, system=True, id="app.help_quit"),
    ]
    COMMANDS = App.COMMANDS | {CrmCommands}

    workspace: reactive[Workspace | None] = reactive(None, init=False, always_update=True)
    """The open database and acting user; None until the opening worker is done."""
    workspace_status: reactive[str] = reactive("opening the database…", init=False)
    """A line shown on every screen while the workspace is not ready ("" once it is)."""
    status_counts: reactive[str] = reactive("", init=False)
    """The acting user's open activities as `crm status` says them ("3 overdue · 2 today ·
    5 planned"), refreshed with the reminder poll; the navigation bar shows it."""

    def __init__(
        self,
        db_target: str | os.PathLike[str] | None = None,
        login: str | None = None,
        demo_contacts: int = 0,
        demo_seed: int = 1,
    ) -> None:
        super().__init__()
        self.db_target = db_target
        self.login = login
        self.demo_contacts = demo_contacts
        self.demo_seed = demo_seed
        self._main_screens: list[MainScreen] = []
        self._first_rows = threading.Event()
        """Set once the contact list has painted its first rows from `crm_tui.quick`, or when
        there are none to paint: the workspace opens after it (see `show_first_rows`)."""
        self._first_rows_reader = _FirstRows(db_target, login)
        self._data_version: int | None = None
        """The change counter the screens last drew with (None until first read)."""
        self._data_polling = False
        self._data_poll_started = False
        self._notice_since: datetime | None = None
        """Reminders due after this moment are looked for (None: the first poll, 15 min back)."""
        self._shown_notices: set[tuple[int, datetime]] = set()
        """Reminder keys (activity, remind_at) already shown in this session."""
        self._reminder_polling = False
        self._reminder_poll_started = False
        self._reminder_poll_again = False

    # -- the workspace -----------------------------------------------------------------------

    def on_mount(self) -> None:
        from crm_tui.keymap import apply_settings

        apply_settings(self)  # theme and keymap before the first paint; warnings for typos
        self.show_first_rows()
        self.open_workspace()

    def show_first_rows(self, waited: float = 0.0) -> None:
        """Hand the contact list its first rows read straight from the SQLite file
        (`crm_tui.quick`, started in a thread when the app was made), so they are painted about
        a second before the workspace (SQLAlchemy, migrations, defaults) could bring them."""
        reader = self._first_rows_reader
        if reader.is_alive() and waited < FIRST_ROWS_WAIT:
            self.set_timer(FIRST_ROWS_POLL, lambda: self.show_first_rows(waited + FIRST_ROWS_POLL))
            return
        source = None if reader.is_alive() else reader.source
        screen = next((s for s in self._main_screens if isinstance(s, ContactsScreen)), None)
        if source is not None and screen is None and waited < FIRST_ROWS_WAIT:
            self.call_after_refresh(self.show_first_rows, waited + FIRST_ROWS_POLL)
            return
        if source is None or screen is None or self.workspace is not None \
                or not screen.show_first_rows(source):
            self._first_rows.set()
            return
        started = time.monotonic()

        def painted() -> None:
            # Once the table holds the rows, the next refresh paints them: then the workspace
            # may start loading SQLAlchemy (which holds the GIL for a second).
            if screen.table.row_at(0) is not None or time.monotonic() - started > FIRST_ROWS_WAIT:
                timer.stop()
                self.call_after_refresh(self._first_rows.set)

        timer = self.set_interval(FIRST_ROWS_POLL, painted)

    @work(thread=True, exclusive=True, exit_on_error=False, group="workspace",
          name="open workspace")
    def open_workspace(self) -> None:
        """Open (and migrate) the database, install defaults, resolve the user; then, on
        `crm --demo`'s first run, fill it with demo data."""
        from crm_tui.clock import ClockError
        from crm_tui.config import ConfigError
        from crm_tui.db.engine import DatabaseError
        from crm_tui.login import acting_login
        from crm_tui.services.errors import PermissionDenied, ServiceError
        from crm_tui.workspace import open_workspace

        login = self.login or acting_login()
        # Loading SQLAlchemy holds the GIL for a second: let the first rows be painted first.
        self._first_rows.wait(FIRST_ROWS_WAIT)
        try:
            workspace = open_workspace(self.db_target, login)
            if self.demo_contacts > 0 and self._needs_demo(workspace):
                self._make_demo(workspace, login)
        except PermissionDenied as error:
            self.post_message(WorkspaceFailed(*_not_a_user(error)))
            return
        except ConfigError as error:
            self.post_message(WorkspaceFailed("The configuration file has an error", str(error)))
            return
        except (DatabaseError, ClockError, ServiceError) as error:
            self.post_message(WorkspaceFailed("The database could not be opened", str(error)))
            return
        except Exception as error:  # without a workspace the app is no use: say so, log it
            path = _log_unexpected(error, "open workspace")
            where = f"\n\nDetails are in {path}." if path else ""
            self.post_message(WorkspaceFailed(
                "The database could not be opened", f"{type(error).__name__}: {error}{where}"
            ))
            return
        self.post_message(WorkspaceReady(workspace))

    @staticmethod
    def _needs_demo(workspace: Workspace) -> bool:
        """No contacts at all (of any status): `crm --demo`'s first run."""
        from crm_tui.services.contacts import count_contacts
        from crm_tui.services.query import parse

        every = parse("status:all")
        return workspace.read(lambda s: count_contacts(s, workspace.actor, every)) == 0

    def _make_demo(self, workspace: Workspace, login: str) -> None:
        from crm_tui.services.demo import generate_demo

        total = self.demo_contacts
        self.post_message(WorkspaceProgress(f"creating demo data… ({total:,} contacts)"))

        def progress(done: int, count: int) -> None:
            text = f"creating demo data… {done * 100 // max(count, 1)}%"
            self.post_message(WorkspaceProgress(text))

        generate_demo(workspace.db, total, seed=self.demo_seed, acting_login=login,
                      progress=progress)
        workspace.refresh_actor()

    def on_workspace_progress(self, message: WorkspaceProgress) -> None:
        self.workspace_status = message.text

    def on_workspace_ready(self, message: WorkspaceReady) -> None:
        message.stop()
        workspace = message.workspace
        if workspace.settings.keymap:
            self.set_keymap(workspace.settings.keymap)
        self.workspace = workspace
        self.workspace_status = ""
        self.sub_title = workspace.actor.login
        for screen in list(self._main_screens):
            if screen.is_attached:
                screen.post_message(WorkspaceReady(workspace))
        self._start_data_poll()
        self._start_reminder_poll()
        # Everything loaded so far (Textual, SQLAlchemy, the models: about a million objects)
        # lives as long as the app: keep it out of the cyclic garbage collector, whose full
        # passes over it stalled a keystroke for 100-200 ms (issue 8).
        gc.freeze()

    def on_workspace_failed(self, message: WorkspaceFailed) -> None:
        self.workspace_status = f"{message.title}: {message.text}"
        from crm_tui.screens.message import MessageScreen

        self.push_screen(MessageScreen(message.title, message.text))

    def register_main_screen(self, screen: MainScreen) -> None:
        """Main screens announce themselves so WorkspaceReady reaches those already mounted."""
        if screen not in self._main_screens:
            self._main_screens.append(screen)

    def on_unmount(self) -> None:
        if self.workspace is not None:
            self.workspace.close()

    # -- refresh when others change data -----------------------------------------------------

    def _start_data_poll(self) -> None:
        if not self._data_poll_started:
            self._data_poll_started = True
            self.set_interval(DATA_POLL_SECONDS, self.poll_data_version, name="data poll")
        self.poll_data_version()  # the starting point

    def poll_data_version(self) -> None:
        """Read the change counter in a thread; when it moved, the screens refresh. One read at a
        time: a slow disk never piles reads up. (Tests call this instead of waiting.)"""
        workspace = self.workspace
        if workspace is None or self._data_polling:
            return
        self._data_polling = True
        self._read_data_version(workspace)

    @work(thread=True, exit_on_error=False, group="data-poll", name="poll data version")
    def _read_data_version(self, workspace: Workspace) -> None:
        from crm_tui.db.engine import DatabaseError
        from crm_tui.services.conflicts import data_version

        try:
            version: int | None = workspace.read(data_version)
        except DatabaseError:
            version = None  # gone for a moment (a restore, a network blip): next time
        # Any other error fails the worker (logged, notified once) and leaves `_data_polling`
        # set, so a broken poll does not repeat its notification every few seconds.
        self.post_message(self.DataVersionRead(version))

    class DataVersionRead(Message):
        """The poll's result (None: the database could not be read this time)."""

        def __init__(self, version: int | None) -> None:
            super().__init__()
            self.version = version

    def on_crm_app_data_version_read(self, message: CrmApp.DataVersionRead) -> None:
        self._data_polling = False
        version = message.version
        if version is None:
            return
        previous, self._data_version = self._data_version, version
        if previous is None or version == previous:
            return
        self.announce_data_changed(version)

    def announce_data_changed(self, version: int | None = None) -> None:
        """`DataChanged` to the screen on top; the main screens below it or in other modes
        refresh when they are shown again. A form on top is left alone (and ignores it)."""
        try:
            top = self.screen
        except ScreenStackError:  # quitting: the screens are gone already
            return
        for screen in self._main_screens:
            if screen is not top:
                screen.mark_data_stale()
        top.post_message(DataChanged(version))

    # -- due reminders as notifications, the `crm status` counts (issue 6, item 8) -----------

    def _start_reminder_poll(self) -> None:
        if not self._reminder_poll_started:
            self._reminder_poll_started = True
            self.set_interval(REMINDER_POLL_SECONDS, self.poll_reminders, name="reminder poll")
        self.poll_reminders()

    def poll_reminders(self) -> None:
        """Look for this user's due reminders and count their open activities, in a thread; the
        event loop never waits. One poll at a time. (Tests call this instead of waiting 30 s;
        screens call it after changing activities, to refresh the counts.)"""
        workspace = self.workspace
        if workspace is None:
            return
        if self._reminder_polling:
            self._reminder_poll_again = True  # a change while reading: count once more after
            return
        self._reminder_polling = True
        self._read_reminders(workspace, self._notice_since)

    @work(thread=True, exit_on_error=False, group="reminders", name="poll reminders")
    def _read_reminders(self, workspace: Workspace, since: datetime | None) -> None:
        from crm_tui import clock
        from crm_tui.commands.status import format_counts
        from crm_tui.db.engine import DatabaseError
        from crm_tui.services.activities import open_counts
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.reminders import due_reminders_for_user

        now = clock.now()
        start = since if since is not None else now - NOTICE_LOOKBACK

        def read(session):
            notices = due_reminders_for_user(session, workspace.actor, start, until=now,
                                             limit=NOTICE_PAGE)
            return notices, open_counts(session, workspace.actor)

        try:
            notices, counts = workspace.read(read)
        except (DatabaseError, ServiceError):
            self.post_message(self.RemindersRead([], None, since))  # next time
            return
        # A full page may have more behind it: go on from its last one, else from now.
        following = notices[-1].remind_at if len(notices) == NOTICE_PAGE else now
        self.post_message(self.RemindersRead(notices, format_counts(counts), following))

    class RemindersRead(Message):
        def __init__(self, notices: list, counts: str | None, following: datetime | None) -> None:
            super().__init__()
            self.notices = notices
            self.counts = counts
            self.following = following

    def on_crm_app_reminders_read(self, message: CrmApp.RemindersRead) -> None:
        self._reminder_polling = False
        self._notice_since = message.following
        if message.counts is not None:
            self.status_counts = message.counts
        fresh = [n for n in message.notices if n.key not in self._shown_notices]
        self._shown_notices.update(n.key for n in fresh)
        for notice in fresh[:NOTICES_AT_ONCE]:
            self.notify(notice.message, title=notice.title, timeout=NOTICE_SECONDS, markup=False)
        if len(fresh) > NOTICES_AT_ONCE:
            more = len(fresh) - NOTICES_AT_ONCE
            self.notify(f"and {more} more due reminder{'s' if more != 1 else ''} (F4: My activities)",
                        title="Reminders", timeout=NOTICE_SECONDS)
        if self._reminder_poll_again:
            self._reminder_poll_again = False
            self.poll_reminders()

    # -- errors from workers -----------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker) -> None:
        """Every worker's failure ends here (screens and widgets hand theirs on with
        `ReportsWorkerErrors`): a notification, never a traceback on screen."""
        error = worker.error
        if error is None:
            return
        if _for_people(error):
            self.notify(str(error), severity="error", title="Error")
            return
        path = _log_unexpected(error, worker.name)
        where = f" (details in {path})" if path else ""
        self.notify(f"{type(error).__name__}: {error}{where}", severity="error",
                    title="Unexpected error", timeout=10)

    def get_key_display(self, binding: Binding) -> str:
        """Function keys as people write them: F2, not f2."""
        display = super().get_key_display(binding)
        if not binding.key_display and display[:1] == "f" and display[1:].isdigit():
            return display.upper()
        return display

    # -- actions -----------------------------------------------------------------------------

    def action_show(self, mode: str) -> None:
        """Show one of the main screens (keeping each screen's state)."""
        if mode in self.MODES:
            self.switch_mode(mode)

    def action_help(self) -> None:
        from crm_tui.screens.help import HelpScreen, collect_keys

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(collect_keys(self, self.screen)))


def _not_a_user(error: BaseException) -> tuple[str, str]:
    """The message screen's title and text for a login the database refuses: the service's
    sentence (naming the admins to ask) without its "user: " prefix, and where in the app an
    admin adds users."""
    text = str(error).removeprefix("user: ")
    if "deactivated" in text:
        return "Your login is deactivated", text
    if "crm users add" in text:
        text += ".\n\nAn admin can also add you in crm itself: Settings (F6) → Users."
    return "You are not a user of this database", text


def _for_people(error: BaseException) -> bool:
    from crm_tui.services.errors import ServiceError

    if isinstance(error, ServiceError):
        return True
    try:
        from crm_tui.db.engine import DatabaseError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, DatabaseError)


def _log_unexpected(error: BaseException, where: str) -> str | None:
    """Append the traceback to crm.log in the user data dir; returns its path (None if unwritable)."""
    from crm_tui.paths import data_dir

    path = data_dir() / "crm.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    try:
        log.error("unexpected error in %s", where, exc_info=(type(error), error, error.__traceback__))
    finally:
        log.removeHandler(handler)
        handler.close()
    return str(path)
