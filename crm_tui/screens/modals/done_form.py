"""Closing activities from the keyboard: "done" with feedback (and a file for an upload
activity), and "cancel" with a confirmation. Both modals save themselves in a worker.

`DoneForm` dismisses with the service's `DoneResult` (its `created` is the next activity a
`trigger` type planned at once, its `draft` what a `suggest` type proposes), `CancelForm` with
the `TriageResult`; both with None when the rep backs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from crm_tui.screens.modals.activity_form import (
    FORM_CSS,
    FormErrors,
    Rejected,
    Saved,
    field_row,
    rejection,
)
from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.activities import TriageResult  # noqa: F401 - in a string annotation
    from crm_tui.services.chaining import DoneResult  # noqa: F401 - in a string annotation
    from crm_tui.workspace import Workspace


class DoneForm(FormErrors, ReportsWorkerErrors, ModalScreen["DoneResult | None"]):
    """Mark one activity done: feedback (enter saves), a file path for an upload activity."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="done_form.cancel"),
        Binding("ctrl+s", "save", "Done", id="done_form.save"),
    ]

    DEFAULT_CSS = FORM_CSS.format(form="DoneForm")

    def __init__(
        self, workspace: Workspace, activity_id: int, label: str, category: str = "",
        *, plan_next: bool = False, chaining: str = "none",
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.activity_id = activity_id
        self.label = label
        self.category = category
        self.plan_next = plan_next
        self.chaining = chaining
        self._saving = False

    def compose(self) -> ComposeResult:
        title = "Done & plan next" if self.plan_next else "Mark done"
        with Vertical():
            yield Static(Text.assemble((title, "bold"), ("   enter save · esc cancel", "dim")),
                         classes="form-title")
            yield Static(Text.assemble(("✓ ", "green"), self.label), classes="form-subtitle",
                         markup=False)
            if self.chaining == "trigger":
                yield Static("its type plans the next activity at once", classes="form-subtitle")
            yield from field_row("feedback", Input(id="field-feedback", compact=True,
                                                   placeholder="how it went"))
            if self.category == "upload":
                yield from field_row("file", Input(id="field-file", compact=True,
                                                   placeholder="path of the document to attach"))
            yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Done", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-feedback", Input).focus()

    def action_save(self) -> None:
        if self._saving:
            return
        self._saving = True
        self.clear_errors()
        file = self.query("#field-file")
        self.save(self.query_one("#field-feedback", Input).value,
                  file.first(Input).value.strip() if file else "")

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

    @work(thread=True, exclusive=True, exit_on_error=False, name="mark done")
    def save(self, feedback: str, file: str) -> None:
        from crm_tui.services.chaining import mark_done
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        try:
            result = workspace.write(lambda s: mark_done(
                s, workspace.actor, self.activity_id, feedback, plan_next=self.plan_next,
                file=file or None, settings=workspace.settings,
            ))
        except ServiceError as error:
            self.post_message(rejection(error))
            return
        self.post_message(Saved(result))

    def on_rejected(self, message: Rejected) -> None:
        self._saving = False
        self.show_error(message.field, message.text)

    def on_saved(self, message: Saved) -> None:
        self.dismiss(message.value)  # type: ignore[arg-type]


class CancelForm(FormErrors, ReportsWorkerErrors, ModalScreen["TriageResult | None"]):
    """Confirm cancelling one or more activities, with an optional reason for the history."""

    BINDINGS = [
        Binding("escape", "back", "Keep them", id="cancel_form.back"),
        Binding("ctrl+s", "save", "Cancel activities", id="cancel_form.save"),
    ]

    DEFAULT_CSS = FORM_CSS.format(form="CancelForm")

    def __init__(self, workspace: Workspace, ids: Sequence[int], label: str) -> None:
        super().__init__()
        self.workspace = workspace
        self.ids = tuple(ids)
        self.label = label
        self._saving = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble((f"Cancel {self.label}?", "bold")), classes="form-title")
            yield Static("They stay in the history as cancelled.", classes="form-subtitle")
            yield from field_row("reason", Input(id="field-reason", compact=True,
                                                 placeholder="why (optional)"), label="Reason")
            yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel them", id="save", variant="error", compact=True)
                yield Button("Keep", id="back", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-reason", Input).focus()

    def action_save(self) -> None:
        if self._saving:
            return
        self._saving = True
        self.clear_errors()
        self.save(self.query_one("#field-reason", Input).value)

    def action_back(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @work(thread=True, exclusive=True, exit_on_error=False, name="cancel activities")
    def save(self, reason: str) -> None:
        from crm_tui.services.activities import cancel
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        try:
            result = workspace.write(lambda s: cancel(s, workspace.actor, self.ids, reason))
        except ServiceError as error:
            self.post_message(rejection(error))
            return
        self.post_message(Saved(result))

    def on_rejected(self, message: Rejected) -> None:
        self._saving = False
        self.show_error(message.field, message.text)

    def on_saved(self, message: Saved) -> None:
        self.dismiss(message.value)  # type: ignore[arg-type]
