"""The frame every small dialog of the contact screens shares: a centred box with a title, rows of
labelled fields with their error lines, a hint line and buttons; escape cancels.

Subclasses compose a `Vertical(id="dialog")` holding `self.heading(...)`, their fields and buttons,
and dismiss with their result (None on cancel). The field helpers keep the ids regular
(`#field-NAME`, `#row-NAME`, `#error-NAME`), so `show_error(field, text)` puts a service's
`ValidationError(field, message)` next to the field it names.
"""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

ResultT = TypeVar("ResultT")


class Dialog(ReportsWorkerErrors, ModalScreen[ResultT]):
    """A modal box; escape dismisses it with None."""

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
    }
    Dialog > #dialog {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    Dialog.-danger > #dialog {
        border: round $error;
    }
    Dialog #dialog-title {
        text-style: bold;
        height: auto;
        margin-bottom: 1;
    }
    Dialog .dialog-text {
        height: auto;
    }
    Dialog .hint {
        color: $text-muted;
        height: auto;
    }
    Dialog .field-row {
        height: 1;
    }
    Dialog .field-row > Label {
        width: 16;
    }
    Dialog .field-row > Input, Dialog .field-row > Select {
        width: 1fr;
    }
    Dialog .field-error {
        color: $error;
        padding-left: 16;
        height: auto;
        display: none;
    }
    Dialog .field-error.-shown {
        display: block;
    }
    Dialog #form-error {
        padding-left: 0;
    }
    Dialog .buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    Dialog .buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    @staticmethod
    def heading(text: str) -> Static:
        """The box's title line."""
        return Static(text, id="dialog-title", markup=False)

    @staticmethod
    def field(name: str, label: str, widget: Widget, *, classes: str = "") -> ComposeResult:
        """A labelled row and the error line under it."""
        with Horizontal(classes=f"field-row {classes}".strip(), id=f"row-{name}"):
            yield Label(label)
            yield widget
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    @staticmethod
    def input(name: str, value: str = "", placeholder: str = "") -> Input:
        return Input(value=value, placeholder=placeholder, id=f"field-{name}", compact=True)

    @staticmethod
    def buttons(*buttons: tuple[str, str, str]) -> ComposeResult:
        """(id, label, variant) buttons, right-aligned."""
        with Horizontal(classes="buttons"):
            for button_id, label, variant in buttons:
                yield Button(label, id=button_id, variant=variant, compact=True)  # type: ignore[arg-type]

    def clear_errors(self) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")

    def show_error(self, field: str, text: str) -> None:
        """The message next to `field` (or on the form's own error line when no such field)."""
        self.clear_errors()
        target = field if self.query(f"#error-{field}") else "form"
        if not self.query(f"#error-{target}"):
            self.notify(f"{field}: {text}", severity="error")
            return
        label = self.query_one(f"#error-{target}", Static)
        label.update(text if target == field else f"{field}: {text}")
        label.add_class("-shown")
        label.scroll_visible()
        if self.query(f"#field-{field}"):
            self.query_one(f"#field-{field}").focus()

    def value_of(self, name: str) -> str:
        return self.query_one(f"#field-{name}", Input).value.strip()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Buttons run the action named by their id (`save` -> `action_save`)."""
        event.stop()
        button_id = event.button.id or ""
        if button_id == "cancel":
            self.action_cancel()
            return
        handler = getattr(self, f"action_{button_id}", None)
        if handler is not None:
            handler()
