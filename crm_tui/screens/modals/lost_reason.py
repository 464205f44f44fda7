"""Mark an opportunity lost: a modal choosing one of the configured lost reasons (required) and
an optional note. It saves itself (`opportunities.mark_lost`) and dismisses with True, or None
when cancelled; a refusal (no reason, lost already, not allowed) shows next to the field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.workspace import Workspace


class LostReasonDialog(ReportsWorkerErrors, ModalScreen[bool | None]):
    """Lost: reason (required) and note."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="lost.cancel"),
        Binding("ctrl+s", "save", "Mark lost", id="lost.save"),
    ]

    DEFAULT_CSS = """
    LostReasonDialog {
        align: center middle;
    }
    LostReasonDialog > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        border: round $error;
        background: $surface;
        padding: 0 1;
    }
    LostReasonDialog #lost-title {
        text-style: bold;
        height: 1;
        margin-bottom: 1;
    }
    LostReasonDialog .field-row {
        height: 1;
    }
    LostReasonDialog .field-row Label {
        width: 9;
    }
    LostReasonDialog .field-row Select, LostReasonDialog .field-row Input {
        width: 1fr;
    }
    LostReasonDialog .field-error {
        color: $error;
        padding-left: 9;
        height: auto;
        display: none;
    }
    LostReasonDialog .field-error.-shown {
        display: block;
    }
    LostReasonDialog #lost-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    LostReasonDialog #lost-buttons Button {
        margin-left: 2;
    }
    """

    class Reasons(Message):
        def __init__(self, reasons: list[str]) -> None:
            super().__init__()
            self.reasons = reasons

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    class Saved(Message):
        pass

    def __init__(self, workspace: Workspace, opportunity_id: int, title: str = "") -> None:
        super().__init__()
        self.workspace = workspace
        self.opportunity_id = opportunity_id
        self.opportunity_title = title

    def compose(self) -> ComposeResult:
        with Vertical():
            name = self.opportunity_title or f"opportunity {self.opportunity_id}"
            yield Static(f"Lost: {name}", id="lost-title", markup=False)
            with Horizontal(classes="field-row"):
                yield Label("Reason *")
                yield Select([], prompt="choose a lost reason", id="field-reason", compact=True)
            yield Static(id="error-reason", classes="field-error", markup=False)
            with Horizontal(classes="field-row"):
                yield Label("Note")
                yield Input(id="field-note", compact=True, placeholder="optional")
            yield Static(id="error-note", classes="field-error", markup=False)
            yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(id="lost-buttons"):
                yield Button("Mark lost", id="save", variant="error", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-reason", Select).focus()
        self.load_reasons()

    @work(thread=True, exclusive=True, exit_on_error=False, name="load lost reasons")
    def load_reasons(self) -> None:
        from crm_tui.services.opportunities import list_lost_reasons

        self.post_message(self.Reasons(self.workspace.read(list_lost_reasons)))

    def on_lost_reason_dialog_reasons(self, message: LostReasonDialog.Reasons) -> None:
        self.query_one("#field-reason", Select).set_options([(r, r) for r in message.reasons])
        if not message.reasons:
            self.show_error("reason", "no lost reasons are configured (ask an admin)")

    def show_error(self, field: str, text: str) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")
        target = field if field in ("reason", "note") else "form"
        label = self.query_one(f"#error-{target}", Static)
        label.update(text)
        label.add_class("-shown")

    def action_save(self) -> None:
        value = self.query_one("#field-reason", Select).value
        reason = value if isinstance(value, str) else ""
        self.save(reason, self.query_one("#field-note", Input).value)

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

    @on(Select.Changed, "#field-reason")
    def _reason_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one("#field-note", Input).focus()

    @work(thread=True, exclusive=True, exit_on_error=False, name="mark lost")
    def save(self, reason: str, note: str) -> None:
        from crm_tui.services.errors import ServiceError, ValidationError
        from crm_tui.services.opportunities import mark_lost

        workspace = self.workspace
        try:
            workspace.write(
                lambda s: mark_lost(s, workspace.actor, self.opportunity_id, reason, note).id
            )
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        except ServiceError as error:
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Saved())

    def on_lost_reason_dialog_rejected(self, message: LostReasonDialog.Rejected) -> None:
        self.show_error(message.field, message.text)

    def on_lost_reason_dialog_saved(self, message: LostReasonDialog.Saved) -> None:
        self.dismiss(True)
