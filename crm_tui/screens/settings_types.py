"""Settings → Activity types: every type with its defaults and chaining, added and edited by an
admin through `ActivityTypeForm`; read-only for everybody else.

A section of the Settings screen (mounted by `screens.settings` with the class
`settings-section`): it loads its own rows (`services.activity_types.list_types`, the one source)
in a thread worker, and the screen calls `reload()` on ctrl+r and when others change data. The
form saves itself; the service's validation (a `trigger` loop, a missing next type, a bad count)
appears next to its field, and a type somebody else saved meanwhile is refused, not overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.activity_types import ActivityTypeRow
    from crm_tui.workspace import Workspace

# The choices of models.activities (not imported: the app's first paint loads no ORM).
CATEGORIES = (
    ("e-mail", "email"), ("call", "call"), ("meeting", "meeting"), ("to-do", "todo"),
    ("reminder", "reminder"), ("upload document", "upload"),
)
CHAINING = (("none", "none"), ("suggest (a pre-filled form)", "suggest"),
            ("trigger (created at once)", "trigger"))
DELAY_UNITS = (("days", "days"), ("weeks", "weeks"), ("months", "months"))
DELAY_FROM = (("the previous deadline", "previous_deadline"),
              ("the completion date", "completion_date"))
NO_TYPE = -1
"""The next-type choice that means none."""

COLUMNS = ("Type", "Category", "Assignee", "Remind", "Chaining")
LABELS = {
    "name": "Name", "category": "Category", "default_assignee": "Assignee",
    "default_summary": "Summary", "default_note": "Note", "default_reminder_minutes": "Reminder",
    "chaining": "Chaining", "next_type": "Next type", "delay_count": "Delay",
    "delay_unit": "Unit", "delay_from": "From", "active": "Active",
}


def chaining_text(kind: ActivityTypeRow) -> str:
    """ "suggest → Meeting +3d" (from the previous deadline), "trigger → Follow-up +1w (done)"
    (from the completion date), or "none"."""
    if kind.chaining == "none" or not kind.next_type:
        return "none"
    base = " (done)" if kind.delay_from == "completion_date" else ""
    return f"{kind.chaining} → {kind.next_type} +{kind.delay_count}{kind.delay_unit[0]}{base}"


@dataclass(frozen=True)
class TypesData:
    types: list[ActivityTypeRow]
    logins: list[str]


class ActivityTypesSettings(ReportsWorkerErrors, Vertical):
    """The activity types table; `a` adds and `e`/enter edits (admins)."""

    BINDINGS = [
        Binding("a", "add_type", "Add type", id="types.add"),
        Binding("e", "edit_type", "Edit type", id="types.edit"),
    ]

    DEFAULT_CSS = """
    ActivityTypesSettings {
        height: auto;
        margin-bottom: 1;
    }
    ActivityTypesSettings #types-title {
        text-style: bold underline;
    }
    ActivityTypesSettings #types-note {
        color: $text-muted;
        height: auto;
    }
    ActivityTypesSettings DataTable {
        height: auto;
        max-height: 16;
        scrollbar-size-vertical: 1;
    }
    """

    class Loaded(Message):
        def __init__(self, data: TypesData) -> None:
            super().__init__()
            self.data = data

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.types: list[ActivityTypeRow] = []
        self.logins: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("Activity types", id="types-title")
        yield Static("loading…", id="types-note", markup=False)
        table: DataTable = DataTable(id="types-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table

    @property
    def workspace(self) -> Workspace | None:
        return getattr(self.app, "workspace", None)

    @property
    def is_admin(self) -> bool:
        workspace = self.workspace
        return workspace is not None and workspace.actor.is_admin

    def reload(self) -> None:
        workspace = self.workspace
        if workspace is not None:
            self.load(workspace)

    @work(thread=True, exclusive=True, exit_on_error=False, name="load activity types")
    def load(self, workspace: Workspace) -> None:
        from crm_tui.services.activity_types import list_types
        from crm_tui.services.users import list_users

        data = workspace.read(lambda s: TypesData(
            list_types(s), [u.login for u in list_users(s, include_inactive=False)]))
        self.post_message(self.Loaded(data))

    def on_activity_types_settings_loaded(self, message: ActivityTypesSettings.Loaded) -> None:
        message.stop()
        self.show(message.data)

    def show(self, data: TypesData) -> None:
        """Fill the table, keeping the cursor on the same type."""
        table = self.query_one(DataTable)
        current = self.current_type
        self.types = list(data.types)
        self.logins = list(data.logins)
        table.clear()
        for kind in self.types:
            style = "" if kind.active else "dim strike"
            reminder = "" if kind.default_reminder_minutes is None else f"{kind.default_reminder_minutes}m"
            table.add_row(
                *(Text(value, style=style) for value in (
                    kind.name, kind.category, kind.default_assignee or "", reminder,
                    chaining_text(kind),
                )),
                key=str(kind.id),
            )
        if current is not None:
            index = next((i for i, k in enumerate(self.types) if k.id == current.id), 0)
            table.move_cursor(row=index, animate=False)
        self.query_one("#types-title", Static).update(f"Activity types ({len(self.types)})")
        note = ("a adds a type · e or enter edits the highlighted one (defaults and chaining)."
                if self.is_admin else "Read-only: only an admin adds or changes activity types.")
        self.query_one("#types-note", Static).update(note)
        self.refresh_bindings()

    @property
    def current_type(self) -> ActivityTypeRow | None:
        table = self.query_one(DataTable)
        if not self.types or table.cursor_row < 0 or table.cursor_row >= len(self.types):
            return None
        return self.types[table.cursor_row]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add_type", "edit_type"):
            return self.is_admin
        return True

    def action_add_type(self) -> None:
        workspace = self.workspace
        if workspace is not None and workspace.actor.is_admin:
            self.app.push_screen(ActivityTypeForm(workspace, None, self.types, self.logins), self._saved)

    def action_edit_type(self) -> None:
        workspace = self.workspace
        kind = self.current_type
        if workspace is None or kind is None:
            return
        if not workspace.actor.is_admin:
            self.notify("Only an admin changes activity types.", severity="warning")
            return
        self.app.push_screen(ActivityTypeForm(workspace, kind, self.types, self.logins), self._saved)

    @on(DataTable.RowSelected, "#types-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit_type()

    def _saved(self, name: str | None) -> None:
        if name is not None:
            self.notify(f"Activity type {name} saved.")
            self.reload()


class ActivityTypeForm(ReportsWorkerErrors, ModalScreen[str | None]):
    """Add or edit one activity type; dismisses with its name once saved (None on cancel)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="type_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="type_form.save"),
    ]

    DEFAULT_CSS = """
    ActivityTypeForm {
        align: center middle;
    }
    ActivityTypeForm > Vertical {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    ActivityTypeForm #type-form-title {
        text-style: bold;
        height: 1;
    }
    ActivityTypeForm VerticalScroll {
        height: auto;
        max-height: 80vh;
    }
    ActivityTypeForm .field-row {
        height: 1;
    }
    ActivityTypeForm .field-row Label {
        width: 11;
    }
    ActivityTypeForm .field-row Input, ActivityTypeForm .field-row Select {
        width: 1fr;
    }
    ActivityTypeForm .field-row .count {
        width: 6;
    }
    ActivityTypeForm .field-row .unit {
        width: 12;
    }
    ActivityTypeForm .field-row .gap {
        width: 1;
    }
    ActivityTypeForm .field-row .short {
        width: 6;
    }
    ActivityTypeForm .field-row .after {
        width: 7;
    }
    ActivityTypeForm .field-row .hint {
        width: 1fr;
        color: $text-muted;
        padding-left: 1;
    }
    ActivityTypeForm .field-error {
        color: $error;
        padding-left: 11;
        height: auto;
        display: none;
    }
    ActivityTypeForm .field-error.-shown {
        display: block;
    }
    ActivityTypeForm .chained.-off {
        opacity: 50%;
    }
    ActivityTypeForm #type-form-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    ActivityTypeForm #type-form-buttons Button {
        margin-left: 2;
    }
    """

    class Saved(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    def __init__(
        self, workspace: Workspace, kind: ActivityTypeRow | None, types: list[ActivityTypeRow],
        logins: list[str],
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.kind = kind
        self.types = types
        self.logins = logins
        self._saving = False

    def _row(self, name: str, *widgets) -> ComposeResult:
        with Horizontal(classes="field-row", id=f"row-{name}"):
            yield Label(LABELS[name])
            yield from widgets
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def compose(self) -> ComposeResult:
        kind = self.kind
        title = f"Activity type {kind.name}" if kind else "New activity type"
        others = [(t.name, t.id) for t in self.types if kind is None or t.id != kind.id]
        if kind is not None:
            others.insert(0, (f"{kind.name} (itself)", kind.id))
        with Vertical():
            yield Static(Text.assemble((title, "bold"), ("   ctrl+s save · esc cancel", "dim")),
                         id="type-form-title")
            with VerticalScroll():
                yield from self._row("name", Input(kind.name if kind else "", id="field-name",
                                                   compact=True))
                yield from self._row("category", Select(
                    CATEGORIES, value=kind.category if kind else "call", allow_blank=False,
                    id="field-category", compact=True))
                yield from self._row("default_assignee", Input(
                    (kind.default_assignee or "") if kind else "", id="field-default_assignee",
                    compact=True, placeholder="empty: whoever plans it",
                    suggester=SuggestFromList(self.logins, case_sensitive=False)))
                yield from self._row("default_summary", Input(
                    kind.default_summary if kind else "", id="field-default_summary", compact=True))
                yield from self._row("default_note", Input(
                    kind.default_note.replace("\n", " ") if kind else "", id="field-default_note",
                    compact=True))
                reminder = kind.default_reminder_minutes if kind else None
                yield from self._row("default_reminder_minutes", Input(
                    "" if reminder is None else str(reminder), id="field-default_reminder_minutes",
                    compact=True, classes="short"), Static("minutes before; empty: no reminder",
                                                           classes="hint"))
                yield from self._row("chaining", Select(
                    CHAINING, value=kind.chaining if kind else "none", allow_blank=False,
                    id="field-chaining", compact=True))
                yield from self._row("next_type", Select(
                    [("none", NO_TYPE), *others],
                    value=(kind.next_type_id or NO_TYPE) if kind else NO_TYPE, allow_blank=False,
                    id="field-next_type", compact=True, classes="chained"))
                with Horizontal(classes="field-row", id="row-delay_count"):
                    yield Label(LABELS["delay_count"])
                    yield Input(str(kind.delay_count) if kind else "0", id="field-delay_count",
                                compact=True, classes="count chained")
                    yield Static("", classes="gap")
                    yield Select(DELAY_UNITS, value=kind.delay_unit if kind else "days",
                                 allow_blank=False, id="field-delay_unit", compact=True,
                                 classes="unit chained")
                    yield Static(" after ", classes="after")
                    yield Select(DELAY_FROM, value=kind.delay_from if kind else "previous_deadline",
                                 allow_blank=False, id="field-delay_from", compact=True,
                                 classes="chained")
                yield Static(id="error-delay_count", classes="field-error", markup=False)
                yield Static(id="error-delay_unit", classes="field-error", markup=False)
                yield Static(id="error-delay_from", classes="field-error", markup=False)
                if kind is not None:
                    yield from self._row("active", Select(
                        (("yes", True), ("no (hidden from new activities)", False)),
                        value=kind.active, allow_blank=False, id="field-active", compact=True))
                yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(id="type-form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-name", Input).focus()
        self._show_chaining()

    @on(Select.Changed, "#field-chaining")
    def _chaining_changed(self) -> None:
        self._show_chaining()

    def _show_chaining(self) -> None:
        off = self.query_one("#field-chaining", Select).value == "none"
        for widget in self.query(".chained"):
            widget.set_class(off, "-off")

    # -- saving ------------------------------------------------------------------------------

    def values(self) -> dict[str, object]:
        def select(name: str) -> object:
            return self.query_one(f"#field-{name}", Select).value

        def text(name: str) -> str:
            return self.query_one(f"#field-{name}", Input).value

        next_type = select("next_type")
        values: dict[str, object] = {
            "name": text("name"),
            "category": select("category"),
            "default_assignee": text("default_assignee").strip() or None,
            "default_summary": text("default_summary"),
            "default_note": text("default_note"),
            "default_reminder_minutes": text("default_reminder_minutes"),
            "chaining": select("chaining"),
            "next_type": None if next_type in (NO_TYPE, Select.NULL) else str(next_type),
            "delay_count": text("delay_count"),
            "delay_unit": select("delay_unit"),
            "delay_from": select("delay_from"),
        }
        if self.kind is not None:
            values["active"] = select("active")
        if self.kind is not None and self.kind.default_note.replace("\n", " ") == values["default_note"]:
            values["default_note"] = self.kind.default_note  # a multi-line note left as it was
        return values

    def _clear_errors(self) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")

    def show_error(self, field: str, text: str) -> None:
        self._clear_errors()
        target = field if self.query(f"#error-{field}") else "form"
        label = self.query_one(f"#error-{target}", Static)
        label.update(text if target != "form" or field == "form" else f"{LABELS.get(field, field)}: {text}")
        label.add_class("-shown")
        label.scroll_visible()
        if self.query(f"#field-{field}"):
            self.query_one(f"#field-{field}").focus()

    def action_save(self) -> None:
        if self._saving:
            return
        self._saving = True
        self._clear_errors()
        self.save(self.values())

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

    @work(thread=True, exclusive=True, exit_on_error=False, name="save activity type")
    def save(self, values: dict[str, object]) -> None:
        from crm_tui.services.activity_types import add_type, edit_type
        from crm_tui.services.errors import ConflictError, ServiceError, ValidationError

        workspace = self.workspace
        kind = self.kind
        try:
            if kind is None:
                name = workspace.write(lambda s: add_type(s, workspace.actor, values).name)
            else:
                name = workspace.write(lambda s: edit_type(
                    s, workspace.actor, kind.id, values, expected_version=kind.version).name)
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        except ConflictError:
            self.post_message(self.Rejected(
                "form", "Somebody else saved this type meanwhile: nothing was written. "
                        "Press escape and open it again to see their version."))
            return
        except ServiceError as error:
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Saved(name))

    def on_activity_type_form_rejected(self, message: ActivityTypeForm.Rejected) -> None:
        self._saving = False
        self.show_error(message.field, message.text)

    def on_activity_type_form_saved(self, message: ActivityTypeForm.Saved) -> None:
        self.dismiss(message.name)
