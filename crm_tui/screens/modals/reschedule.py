"""Triage prompts for one or many activities: reschedule (to a date, or by a shift such as
`+1w`) and reassign (to a login or `team:NAME`). Each saves itself in a worker and dismisses
with what it did and how (so My activities' `.` can repeat it), or None when cancelled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

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
    from crm_tui.services.activities import TriageResult
    from crm_tui.workspace import Workspace

SHIFT = re.compile(r"^\s*([+-]\s*)?\d{1,4}\s*(d|days?|w|weeks?|m|months?)?\s*$", re.IGNORECASE)
"""A shift of each activity's own due date: `+1w`, `-2d`, `3` (days). Anything else is a date."""


def split_when(text: str) -> tuple[str | None, str | None]:
    """What the rep typed as (due, by): `+1w` shifts each activity, `tomorrow` or `1.12.` is a date."""
    if SHIFT.match(text or ""):
        return None, text.strip()
    return text.strip(), None


@dataclass(frozen=True)
class Rescheduled:
    result: TriageResult
    due: str | None
    by: str | None


@dataclass(frozen=True)
class Reassigned:
    result: TriageResult
    assigned_to: str


class RescheduleForm(FormErrors, ReportsWorkerErrors, ModalScreen[Rescheduled | None]):
    """Move activities to a date or by a shift."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="reschedule_form.cancel"),
        Binding("ctrl+s", "save", "Reschedule", id="reschedule_form.save"),
    ]

    DEFAULT_CSS = FORM_CSS.format(form="RescheduleForm") + """
    RescheduleForm .field-row Input {
        width: 24;
    }
    """

    def __init__(
        self, workspace: Workspace, ids: Sequence[int], label: str, *,
        current_due: date | None = None, initial: str = "+1w",
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.ids = tuple(ids)
        self.label = label
        self.current_due = current_due
        """The one activity's due date (None for several): the hint shows where it goes."""
        self.initial = initial
        self._saving = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble((f"Reschedule {self.label}", "bold"),
                                       ("   enter save · esc cancel", "dim")),
                         classes="form-title", markup=False)
            yield Static("+3d +1w +1m shift each · or a date: tomorrow, mon, 1.12., 2026-12-01",
                         classes="form-subtitle")
            with Horizontal(classes="field-row", id="row-when"):
                yield Label("To")
                yield Input(self.initial, id="field-when", compact=True)
                yield Static("", id="when-hint", classes="hint", markup=False)
            yield Static(id="error-when", classes="field-error", markup=False)
            yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Reschedule", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-when", Input).focus()
        self._hint()

    @on(Input.Changed, "#field-when")
    def _changed(self) -> None:
        self._hint()

    def _hint(self) -> None:
        from crm_tui.services.activities import parse_shift
        from crm_tui.services.dates import parse_date, shift
        from crm_tui.services.errors import ValidationError

        text = self.query_one("#field-when", Input).value
        due, by = split_when(text)
        hint = ""
        try:
            if by is not None:
                count, unit = parse_shift(by)
                if self.current_due is not None:
                    hint = f"→ {shift(self.current_due, count, unit):%a %d %b %Y}"
                else:
                    hint = f"each {count:+d} {unit if abs(count) != 1 else unit[:-1]}"
            elif due:
                hint = f"→ {parse_date(due, self.workspace.actor.today()):%a %d %b %Y}"
        except ValidationError:
            hint = "?"
        self.query_one("#when-hint", Static).update(hint)

    def action_save(self) -> None:
        if self._saving:
            return
        due, by = split_when(self.query_one("#field-when", Input).value)
        if not due and not by:
            self.show_error("when", "type a date or a shift such as +1w")
            return
        if due:
            from crm_tui.services.dates import parse_date
            from crm_tui.services.errors import ValidationError

            try:  # the date itself, so that `.` repeats it as the same day
                due = parse_date(due, self.workspace.actor.today()).isoformat()
            except ValidationError as error:
                self.show_error("when", error.message)
                return
        self._saving = True
        self.clear_errors()
        self.save(due, by)

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

    @work(thread=True, exclusive=True, exit_on_error=False, name="reschedule")
    def save(self, due: str | None, by: str | None) -> None:
        from crm_tui.services.activities import reschedule
        from crm_tui.services.errors import ServiceError, ValidationError

        workspace = self.workspace
        try:
            result = workspace.write(lambda s: reschedule(
                s, workspace.actor, self.ids, due=due, by=by, settings=workspace.settings))
        except ValidationError as error:
            field = "when" if error.field in ("due", "by") else error.field
            self.post_message(Rejected(field, error.message))
            return
        except ServiceError as error:
            self.post_message(rejection(error))
            return
        self.post_message(Saved(Rescheduled(result, due, by)))

    def on_rejected(self, message: Rejected) -> None:
        self._saving = False
        self.show_error(message.field, message.text)

    def on_saved(self, message: Saved) -> None:
        self.dismiss(message.value)  # type: ignore[arg-type]


class ReassignForm(FormErrors, ReportsWorkerErrors, ModalScreen[Reassigned | None]):
    """Give activities to a user, a team or everybody."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="reassign_form.cancel"),
        Binding("ctrl+s", "save", "Assign", id="reassign_form.save"),
    ]

    DEFAULT_CSS = FORM_CSS.format(form="ReassignForm")

    class Loaded(Message):
        def __init__(self, names: list[str]) -> None:
            super().__init__()
            self.names = names

    def __init__(self, workspace: Workspace, ids: Sequence[int], label: str) -> None:
        super().__init__()
        self.workspace = workspace
        self.ids = tuple(ids)
        self.label = label
        self._saving = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble((f"Assign {self.label}", "bold"),
                                       ("   enter save · esc cancel", "dim")),
                         classes="form-title", markup=False)
            yield from field_row("assigned_to", Input(
                id="field-assigned_to", compact=True,
                placeholder="a login · team:NAME · everybody"), label="To")
            yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Assign", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-assigned_to", Input).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="assignees")
    def load(self) -> None:
        from crm_tui.services.users import list_teams, list_users

        names = self.workspace.read(lambda s: [u.login for u in list_users(s, include_inactive=False)]
                                    + [f"team:{t.name}" for t in list_teams(s)])
        self.post_message(self.Loaded(names))

    def on_reassign_form_loaded(self, message: ReassignForm.Loaded) -> None:
        self.query_one("#field-assigned_to", Input).suggester = SuggestFromList(
            message.names, case_sensitive=False)

    def action_save(self) -> None:
        if self._saving:
            return
        value = self.query_one("#field-assigned_to", Input).value.strip()
        if not value:
            self.show_error("assigned_to", "a login, team:NAME or everybody")
            return
        self._saving = True
        self.clear_errors()
        self.save(value)

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

    @work(thread=True, exclusive=True, exit_on_error=False, group="save", name="reassign")
    def save(self, assigned_to: str) -> None:
        from crm_tui.services.activities import reassign
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        try:
            result = workspace.write(lambda s: reassign(
                s, workspace.actor, self.ids, assigned_to, settings=workspace.settings))
        except ServiceError as error:
            self.post_message(rejection(error))
            return
        self.post_message(Saved(Reassigned(result, assigned_to)))

    def on_rejected(self, message: Rejected) -> None:
        self._saving = False
        self.show_error(message.field, message.text)

    def on_saved(self, message: Saved) -> None:
        self.dismiss(message.value)  # type: ignore[arg-type]
