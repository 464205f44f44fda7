"""The "add contact" form: a modal that dismisses with the new contact's id (None on cancel).

The service validates; the form shows its `ValidationError(field, message)` next to the field and
writes nothing. Fields the chosen status requires (configurable, `[required]` in the config file)
appear below the basic ones, so a prospect can be saved from this form as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.workspace import Workspace

BASIC_FIELDS = ("name", "first_name", "company", "email", "phone", "city")
EXTRA_FIELDS = ("source", "postal_code", "region", "country", "contacted_on", "description")
"""Shown only when the chosen status requires them."""
STATUSES = ("prospect", "customer", "inbox", "archived", "closed")
LABELS = {
    "name": "Name", "first_name": "First name", "company": "Company", "email": "E-mail",
    "phone": "Phone", "city": "City", "status": "Status", "source": "Source",
    "postal_code": "Postal code", "region": "Region", "country": "Country",
    "contacted_on": "Contacted on", "description": "Description",
}
PLACEHOLDERS = {"contacted_on": "2026-11-23, today, -3d", "email": "name@example.com"}


class ContactFormScreen(ReportsWorkerErrors, ModalScreen[int | None]):
    """New contact: name, first name, company, e-mail, phone, city, status (+ required fields)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "save", "Save", id="form.save"),
    ]

    DEFAULT_CSS = """
    ContactFormScreen {
        align: center middle;
    }
    ContactFormScreen > Vertical {
        width: 66;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    ContactFormScreen #form-title {
        text-style: bold;
        height: 1;
        margin-bottom: 1;
    }
    ContactFormScreen VerticalScroll {
        height: auto;
        max-height: 70vh;
    }
    ContactFormScreen .field-row {
        height: 1;
    }
    ContactFormScreen .field-row Label {
        width: 16;
    }
    ContactFormScreen .field-row Input, ContactFormScreen .field-row Select {
        width: 1fr;
    }
    ContactFormScreen .field-error {
        color: $error;
        padding-left: 16;
        height: auto;
        display: none;
    }
    ContactFormScreen .field-error.-shown {
        display: block;
    }
    ContactFormScreen .extra {
        display: none;
    }
    ContactFormScreen .extra.-required {
        display: block;
    }
    ContactFormScreen #form-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    ContactFormScreen #form-buttons Button {
        margin-left: 2;
    }
    """

    class Saved(Message):
        def __init__(self, contact_id: int) -> None:
            super().__init__()
            self.contact_id = contact_id

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    def __init__(self, workspace: Workspace, status: str = "prospect") -> None:
        super().__init__()
        self.workspace = workspace
        self.initial_status = status

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("New contact   [dim]ctrl+s save · escape cancel[/]", id="form-title")
            with VerticalScroll():
                for name in BASIC_FIELDS[:6]:
                    yield from self._field(name)
                with Horizontal(classes="field-row"):
                    yield Label(LABELS["status"])
                    yield Select(
                        [(s, s) for s in STATUSES], value=self.initial_status, allow_blank=False,
                        id="field-status", compact=True,
                    )
                yield Static(id="error-status", classes="field-error", markup=False)
                for name in EXTRA_FIELDS:
                    yield from self._field(name, extra=True)
                yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(id="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _field(self, name: str, extra: bool = False) -> ComposeResult:
        classes = "field-row extra" if extra else "field-row"
        with Horizontal(classes=classes, id=f"row-{name}"):
            yield Label(LABELS[name])
            yield Input(id=f"field-{name}", compact=True, placeholder=PLACEHOLDERS.get(name, ""))
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self._show_required(self.initial_status)
        self.query_one("#field-name", Input).focus()

    # -- required fields by status -----------------------------------------------------------

    def _required(self, status: str) -> tuple[str, ...]:
        return self.workspace.settings.required.for_status(status)

    def _show_required(self, status: str) -> None:
        required = set(self._required(status))
        for name in EXTRA_FIELDS:
            shown = name in required
            self.query_one(f"#row-{name}").set_class(shown, "-required")
        for name in (*BASIC_FIELDS, *EXTRA_FIELDS):
            label = self.query_one(f"#row-{name} Label", Label)
            label.update(LABELS[name] + (" *" if name in required else ""))

    @on(Select.Changed, "#field-status")
    def _status_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._show_required(event.value)

    # -- saving ------------------------------------------------------------------------------

    def _status(self) -> str:
        value = self.query_one("#field-status", Select).value
        return value if isinstance(value, str) else "prospect"

    def values(self) -> dict[str, object]:
        status = self._status()
        required = set(self._required(status))
        values: dict[str, object] = {"status": status}
        for name in BASIC_FIELDS:
            values[name] = self.query_one(f"#field-{name}", Input).value
        for name in EXTRA_FIELDS:
            if name in required:
                values[name] = self.query_one(f"#field-{name}", Input).value
        return values

    def _clear_errors(self) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")

    def show_error(self, field: str, text: str) -> None:
        self._clear_errors()
        target = field if self.query(f"#error-{field}") else "form"
        label = self.query_one(f"#error-{target}", Static)
        label.update(text if target != "form" else f"{LABELS.get(field, field)}: {text}")
        label.add_class("-shown")
        label.scroll_visible()
        if self.query(f"#field-{field}"):
            self.query_one(f"#field-{field}").focus()

    def action_save(self) -> None:
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

    @work(thread=True, exclusive=True, exit_on_error=False, name="add contact")
    def save(self, values: dict[str, object]) -> None:
        from crm_tui.services.contacts import create_contact
        from crm_tui.services.errors import ServiceError, ValidationError

        workspace = self.workspace
        try:
            contact_id = workspace.write(
                lambda s: create_contact(s, workspace.actor, values, settings=workspace.settings).id
            )
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        except ServiceError as error:
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Saved(contact_id))

    def on_contact_form_screen_rejected(self, message: ContactFormScreen.Rejected) -> None:
        self.show_error(message.field, message.text)

    def on_contact_form_screen_saved(self, message: ContactFormScreen.Saved) -> None:
        self.dismiss(message.contact_id)
