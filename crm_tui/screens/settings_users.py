"""Settings → Users: the users of this database (login, name, e-mail, time zone, role, teams,
active), added and edited by an admin through the user form; read-only for everybody else, who
may only change their own name, e-mail and time zone.

A section of the Settings screen (mounted by `screens.settings`, like the pipelines and types
sections): it loads its own rows in a thread worker and the screen calls `reload()` on ctrl+r
and when others change data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.users import UserDetail
    from crm_tui.workspace import Workspace

COLUMNS = ("Login", "Name", "Role", "Teams", "Time zone", "Active", "E-mail")
"""The e-mail last: the widest, and what matters least in a list at 80 columns."""

SHARED_FILE_NOTE = (
    "On a shared SQLite file the OS login (or --user / CRM_USER) only says who you are: it is not "
    "a security boundary. Every member of the file's Unix group can act as any user; the group "
    "is the boundary (PostgreSQL: the server's own logins). See docs/shared-server.md."
)


@dataclass(frozen=True)
class UsersData:
    users: list[UserDetail]


class UsersSection(ReportsWorkerErrors, Vertical):
    """The users table with add and edit (admin), or read-only with a note."""

    BINDINGS = [
        Binding("a", "add_user", "Add user", id="users.add"),
        Binding("e", "edit_user", "Edit user", id="users.edit"),
    ]

    DEFAULT_CSS = """
    UsersSection {
        height: auto;
        margin-bottom: 1;
    }
    UsersSection #users-title {
        text-style: bold underline;
    }
    UsersSection #users-note, UsersSection #users-shared-note {
        color: $text-muted;
        height: auto;
    }
    UsersSection DataTable {
        height: auto;
        max-height: 16;
        scrollbar-size-vertical: 1;
    }
    """

    class Loaded(Message):
        def __init__(self, data: UsersData) -> None:
            super().__init__()
            self.data = data

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.users: list[UserDetail] = []

    def compose(self) -> ComposeResult:
        yield Static("Users", id="users-title")
        yield Static("loading…", id="users-note", markup=False)
        table: DataTable = DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(SHARED_FILE_NOTE, id="users-shared-note", markup=False)

    @property
    def workspace(self) -> Workspace | None:
        return getattr(self.app, "workspace", None)

    @property
    def is_admin(self) -> bool:
        workspace = self.workspace
        return workspace is not None and workspace.actor.is_admin

    # -- loading -----------------------------------------------------------------------------

    def reload(self, *, refresh_actor: bool = False) -> None:
        workspace = self.workspace
        if workspace is not None:
            self.load(workspace, refresh_actor)

    @work(thread=True, exclusive=True, exit_on_error=False, name="load users")
    def load(self, workspace: Workspace, refresh_actor: bool = False) -> None:
        from crm_tui.services.users import list_users

        if refresh_actor:  # the acting user's own record changed (time zone, name)
            workspace.refresh_actor()
        self.post_message(self.Loaded(UsersData(workspace.read(list_users))))

    def on_users_section_loaded(self, message: UsersSection.Loaded) -> None:
        message.stop()
        self.show(message.data.users)

    def show(self, users: list[UserDetail]) -> None:
        """Fill the table, keeping the cursor on the same user."""
        table = self.query_one(DataTable)
        current = self.current_user
        self.users = list(users)
        table.clear()
        for user in self.users:
            style = "" if user.active else "dim strike"
            table.add_row(
                *(Text(value, style=style) for value in (
                    user.login, user.name, user.role, ", ".join(user.teams),
                    user.timezone or "(default)", "yes" if user.active else "no", user.email,
                )),
                key=user.login,
            )
        workspace = self.workspace
        keep = current.login if current is not None else workspace.actor.login if workspace else ""
        index = next((i for i, u in enumerate(self.users) if u.login == keep), 0)
        table.move_cursor(row=index, animate=False)
        self.query_one("#users-title", Static).update(f"Users ({len(self.users)})")
        self.query_one("#users-note", Static).update(self._note())
        self.refresh_bindings()

    def _note(self) -> str:
        if self.is_admin:
            return "Tab to the table · a adds a user · e or enter edits the highlighted one."
        admins = [u.login for u in self.users if u.role == "admin" and u.active]
        who = ", ".join(admins[:3]) or "an admin"
        return (f"Read-only: only an admin ({who}) adds users or changes roles and teams. "
                "You may change your own name, e-mail and time zone: e on your row.")

    @property
    def current_user(self) -> UserDetail | None:
        table = self.query_one(DataTable)
        if not self.users or table.cursor_row < 0 or table.cursor_row >= len(self.users):
            return None
        return self.users[table.cursor_row]

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_user":
            return self.is_admin
        return True

    def action_add_user(self) -> None:
        workspace = self.workspace
        if workspace is None or not workspace.actor.is_admin:
            return
        from crm_tui.screens.modals.user_form import UserFormScreen

        self.app.push_screen(UserFormScreen(workspace), self._saved)

    def action_edit_user(self) -> None:
        workspace = self.workspace
        user = self.current_user
        if workspace is None or user is None:
            return
        if not workspace.actor.is_admin and user.id != workspace.actor.id:
            self.notify("Only an admin changes other users.", severity="warning")
            return
        from crm_tui.screens.modals.user_form import UserFormScreen

        self.app.push_screen(UserFormScreen(workspace, user), self._saved)

    @on(DataTable.RowSelected, "#users-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit_user()

    def _saved(self, login: str | None) -> None:
        if login is None:
            return
        self.notify(f"User {login} saved.")
        workspace = self.workspace
        self.reload(refresh_actor=workspace is not None and login == workspace.actor.login)
