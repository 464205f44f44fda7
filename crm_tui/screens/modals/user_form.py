"""The user form (Settings → Users): add a user, or edit one; dismisses with the login saved
(None on cancel).

An admin edits every field; anybody else opens only their own record, with name, e-mail and
time zone (the rest is shown, disabled). The service validates: its `ValidationError(field,
message)` appears next to the field and nothing is written. An edit saves with the version the
form was opened with; if somebody saved the user since, the conflict dialog lets the rep choose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from crm_tui.screens.modals.save_with_conflicts import save_or_resolve
from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.users import UserDetail
    from crm_tui.workspace import Workspace

ROLES = ("rep", "manager", "admin")
"""As `models.ROLES` (not imported: the models pull SQLModel in)."""
PERSONAL_FIELDS = ("name", "email", "timezone")
"""What anybody may change on their own record (`permissions.SELF_SERVICE_USER_FIELDS`)."""
LABELS = {
    "login": "Login", "name": "Name", "email": "E-mail", "timezone": "Time zone", "role": "Role",
    "teams": "Teams", "active": "Active",
}
PLACEHOLDERS = {
    "login": "the OS login, e.g. anna",
    "email": "name@example.com",
    "timezone": "e.g. Europe/Berlin; empty: the default",
    "teams": "e.g. Nord, Süd",
}


class UserFormScreen(ReportsWorkerErrors, ModalScreen[str | None]):
    """Add or edit one user: login, name, e-mail, time zone, role, teams, active."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="user_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="user_form.save"),
    ]

    DEFAULT_CSS = """
    UserFormScreen {
        align: center middle;
    }
    UserFormScreen > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    UserFormScreen #form-title {
        text-style: bold;
        height: 1;
        margin-bottom: 1;
    }
    UserFormScreen VerticalScroll {
        height: auto;
        max-height: 70vh;
    }
    UserFormScreen .field-row {
        height: 1;
    }
    UserFormScreen .field-row Label {
        width: 12;
    }
    UserFormScreen .field-row Input, UserFormScreen .field-row Select {
        width: 1fr;
    }
    UserFormScreen .field-error {
        color: $error;
        padding-left: 12;
        height: auto;
        display: none;
    }
    UserFormScreen .field-error.-shown {
        display: block;
    }
    UserFormScreen #form-note {
        color: $text-muted;
        height: auto;
    }
    UserFormScreen #form-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    UserFormScreen #form-buttons Button {
        margin-left: 2;
    }
    """

    class Saved(Message):
        def __init__(self, login: str) -> None:
            super().__init__()
            self.login = login

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    def __init__(self, workspace: Workspace, user: UserDetail | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.user = user
        """The user as the form loaded it (None: a new user)."""
        self.admin = workspace.actor.is_admin

    @property
    def editable_fields(self) -> tuple[str, ...]:
        if self.admin:
            fields = ("name", "email", "timezone", "role", "teams", "active")
            return fields if self.user is not None else ("login", *fields)
        return PERSONAL_FIELDS

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        user = self.user
        title = f"User {user.login}" if user is not None else "New user"
        editable = self.editable_fields
        with Vertical():
            yield Static(f"{title}   [dim]ctrl+s save · escape cancel[/]", id="form-title")
            with VerticalScroll():
                if user is None:
                    yield from self._input("login", "")
                for name in ("name", "email", "timezone"):
                    value = getattr(user, name) if user is not None else ""
                    yield from self._input(name, value, disabled=name not in editable)
                with Horizontal(classes="field-row"):
                    yield Label(LABELS["role"])
                    yield Select(
                        [(r, r) for r in ROLES], value=user.role if user is not None else "rep",
                        allow_blank=False, id="field-role", compact=True,
                        disabled="role" not in editable,
                    )
                yield Static(id="error-role", classes="field-error", markup=False)
                yield from self._input(
                    "teams", ", ".join(user.teams) if user is not None else "",
                    disabled="teams" not in editable,
                )
                with Horizontal(classes="field-row"):
                    yield Label(LABELS["active"])
                    yield Checkbox("may log in", value=user.active if user is not None else True,
                                   id="field-active", compact=True,
                                   disabled="active" not in editable)
                yield Static(id="error-active", classes="field-error", markup=False)
                yield Static(id="error-form", classes="field-error", markup=False)
                if not self.admin:
                    yield Static("Only an admin changes roles, teams and who is active.",
                                 id="form-note")
            with Horizontal(id="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _input(self, name: str, value: str, *, disabled: bool = False) -> ComposeResult:
        with Horizontal(classes="field-row", id=f"row-{name}"):
            yield Label(LABELS[name])
            yield Input(value, id=f"field-{name}", compact=True, disabled=disabled,
                        placeholder=PLACEHOLDERS.get(name, ""))
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        first = "login" if self.user is None else "name"
        self.query_one(f"#field-{first}", Input).focus()

    # -- values ------------------------------------------------------------------------------

    def values(self) -> dict[str, object]:
        """The editable fields as the service takes them."""
        values: dict[str, object] = {}
        for name in self.editable_fields:
            if name == "role":
                role = self.query_one("#field-role", Select).value
                values[name] = role if isinstance(role, str) else "rep"
            elif name == "active":
                values[name] = self.query_one("#field-active", Checkbox).value
            else:
                values[name] = self.query_one(f"#field-{name}", Input).value
        return values

    def base(self) -> dict[str, object]:
        """The loaded values of the fields this form sends (the conflict check's `base`)."""
        if self.user is None:
            return {}
        loaded = self.user.form_values()
        return {name: loaded[name] for name in self.editable_fields if name in loaded}

    # -- errors ------------------------------------------------------------------------------

    def _clear_errors(self) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")

    def show_error(self, field: str, text: str) -> None:
        self._clear_errors()
        target = field if self.query(f"#error-{field}") else "form"
        label = self.query_one(f"#error-{target}", Static)
        label.update(text if target != "form" or field == "form"
                     else f"{LABELS.get(field, field)}: {text}")
        label.add_class("-shown")
        label.scroll_visible()
        if self.query(f"#field-{field}"):
            widget = self.query_one(f"#field-{field}")
            if not widget.disabled:
                widget.focus()

    # -- saving ------------------------------------------------------------------------------

    def action_save(self) -> None:
        self._clear_errors()
        self.save(self.values(), self.base())

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @work(thread=True, exclusive=True, exit_on_error=False, name="save user")
    def save(self, values: dict[str, object], base: dict[str, object]) -> None:
        from crm_tui.services.errors import ConflictError, ServiceError, ValidationError

        try:
            if self.user is None:
                login = self._add(values)
            else:
                login = self._save_resolved(values, self.user.version, base)
        except ConflictError as error:
            save_or_resolve(self, self._save_resolved, error, self._resolved, labels=LABELS,
                            on_failed=self._resolve_failed)
            return
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        except ServiceError as error:
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Saved(login))

    def _add(self, values: dict[str, object]) -> str:
        from crm_tui.services.users import add_user

        workspace = self.workspace
        return workspace.write(lambda s: add_user(s, workspace.actor, values).login)

    def _save_resolved(self, values: dict[str, object], expected_version: int,
                       base: dict[str, object]) -> str:
        """Save an edit (in a worker thread): the form's first save and the conflict dialog's."""
        from crm_tui.services.users import update_user

        workspace = self.workspace
        login = self.user.login
        return workspace.write(
            lambda s: update_user(s, workspace.actor, login, values,
                                  expected_version=expected_version, base=base).login
        )

    def _resolved(self, login: str | None) -> None:
        # None: theirs was taken everywhere, nothing left to save; the list shows theirs.
        self.dismiss(login or self.user.login)

    def _resolve_failed(self, error: Exception) -> None:
        field = getattr(error, "field", "form")
        self.show_error(field, getattr(error, "message", str(error)))

    def on_user_form_screen_rejected(self, message: UserFormScreen.Rejected) -> None:
        self.show_error(message.field, message.text)

    def on_user_form_screen_saved(self, message: UserFormScreen.Saved) -> None:
        self.dismiss(message.login)
