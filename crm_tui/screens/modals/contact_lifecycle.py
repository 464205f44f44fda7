"""Status changes of one contact from its card: convert, close, review.

Each dialog asks, then saves itself (`services.lifecycle`) in a thread worker: a refusal comes
back next to the field it names and nothing is written. They dismiss with True once saved.

- convert (prospect -> customer) asks for confirmation, with the seed-001 option "transfer the
  prospect's notes into the customer's history" and an optional number sequence for a customer
  number;
- close needs a lost reason (a configured list) and a note;
- review moves an inbox contact (imported) to prospect or customer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Select, Static, TextArea

from crm_tui.screens.modals.dialog import Dialog

if TYPE_CHECKING:
    from crm_tui.workspace import Workspace


class _SavingDialog(Dialog[bool]):
    """Loads its choices, saves in a worker, shows refusals next to the fields."""

    class Loaded(Message):
        def __init__(self, choices: dict[str, list[tuple[str, str]]]) -> None:
            super().__init__()
            self.choices = choices

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    class Saved(Message):
        pass

    def __init__(self, workspace: Workspace, contact_id: int, name: str) -> None:
        super().__init__()
        self.workspace = workspace
        self.contact_id = contact_id
        self.contact_name = name
        self._saving = False

    def on_mount(self) -> None:
        self.load_choices()

    def read_choices(self, session) -> dict[str, list[tuple[str, str]]]:
        return {}

    @work(thread=True, exclusive=True, exit_on_error=False, group="choices", name="load choices")
    def load_choices(self) -> None:
        self.post_message(self.Loaded(self.workspace.read(self.read_choices)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        for name, options in message.choices.items():
            select = self.query_one(f"#field-{name}", Select)
            value = select.value
            select.set_options(options)
            if isinstance(value, str) and value in {v for _, v in options}:
                select.value = value

    def write(self, session) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @work(thread=True, exclusive=True, exit_on_error=False, group="save", name="change status")
    def save(self) -> None:
        from crm_tui.services.errors import ServiceError, ValidationError

        try:
            self.workspace.write(self.write)
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        except ServiceError as error:
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Saved())

    def start_save(self) -> None:
        if not self._saving:
            self._saving = True
            self.clear_errors()
            self.save()

    @on(Rejected)
    def _rejected(self, message: Rejected) -> None:
        self._saving = False
        self.show_error(message.field, message.text)

    @on(Saved)
    def _saved(self) -> None:
        self.dismiss(True)

    def selected(self, name: str) -> str:
        value = self.query_one(f"#field-{name}", Select).value
        return value if isinstance(value, str) else ""

    def action_cancel(self) -> None:
        self.dismiss(False)


class ConvertDialog(_SavingDialog):
    """Prospect -> customer, after confirmation."""

    BINDINGS = [Binding("ctrl+s,y", "save", "Convert", id="convert.save")]

    def __init__(self, workspace: Workspace, contact_id: int, name: str, *, has_notes: bool = True,
                 has_number: bool = False) -> None:
        super().__init__(workspace, contact_id, name)
        self.has_notes = has_notes
        self.has_number = has_number

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(f"Convert {self.contact_name} to a customer?")
            yield Checkbox("Transfer the prospect's notes into the customer's history",
                           value=self.has_notes, id="field-transfer_notes", compact=True)
            yield Static(id="error-transfer_notes", classes="field-error", markup=False)
            if not self.has_number:
                yield from self.field("sequence", "Customer no.",
                                      Select([("none for now", "")], value="", allow_blank=False,
                                             id="field-sequence", compact=True))
                yield Static(id="error-customer_number", classes="field-error", markup=False)
            yield Static(id="error-form", classes="field-error", markup=False)
            yield Static("The prospect's lock ends; fill in the customer's details afterwards "
                         "(e edits). y or ctrl+s converts.", classes="hint")
            yield from self.buttons(("save", "Convert", "primary"), ("cancel", "Cancel", "default"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#field-transfer_notes", Checkbox).focus()

    def read_choices(self, session) -> dict[str, list[tuple[str, str]]]:
        if self.has_number:
            return {}
        from crm_tui.services.sequences import list_sequences

        options = [("none for now", "")]
        options += [(f"next of {s.name}: {s.preview}", s.name)
                    for s in list_sequences(session, self.workspace.actor.today())]
        return {"sequence": options}

    def action_save(self) -> None:
        self._transfer = self.query_one("#field-transfer_notes", Checkbox).value
        self._sequence = "" if self.has_number else self.selected("sequence")
        self.start_save()

    def write(self, session) -> None:
        from crm_tui.services.lifecycle import convert_contact

        convert_contact(session, self.workspace.actor, self.contact_id,
                        transfer_notes=self._transfer, number_sequence=self._sequence or None,
                        settings=self.workspace.settings)

    def show_error(self, field: str, text: str) -> None:
        if field == "sequence":
            field = "customer_number"
        super().show_error(field, text)


class CloseDialog(_SavingDialog):
    """The service ended: a lost reason and a note (both required)."""

    BINDINGS = [Binding("ctrl+s", "save", "Close contact", id="close.save")]

    DEFAULT_CSS = """
    CloseDialog #field-note {
        height: 4;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(f"Close {self.contact_name}: the service ended")
            yield from self.field("reason", "Lost reason",
                                  Select([], id="field-reason", compact=True, prompt="choose a reason"))
            yield Static("Note", classes="hint")
            yield TextArea(id="field-note", compact=True, soft_wrap=True)
            yield Static(id="error-note", classes="field-error", markup=False)
            yield Static(id="error-form", classes="field-error", markup=False)
            yield Static("Written to the history and counted in the lost-reasons report; open "
                         "activities are cancelled. ctrl+s closes.", classes="hint")
            yield from self.buttons(("save", "Close contact", "error"), ("cancel", "Cancel", "default"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#field-reason", Select).focus()

    def read_choices(self, session) -> dict[str, list[tuple[str, str]]]:
        from crm_tui.services.lifecycle import list_lost_reasons

        return {"reason": [(r.name, r.name) for r in list_lost_reasons(session)]}

    def action_save(self) -> None:
        self._reason = self.selected("reason")
        self._note = self.query_one("#field-note", TextArea).text.strip()
        self.start_save()

    def write(self, session) -> None:
        from crm_tui.services.lifecycle import close_contact

        close_contact(session, self.workspace.actor, self.contact_id, self._reason, self._note)


class ReviewDialog(_SavingDialog):
    """An inbox contact (imported) becomes a prospect or a customer."""

    BINDINGS = [Binding("ctrl+s", "save", "Review", id="review.save")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(f"Review {self.contact_name}")
            yield from self.field("to_status", "Make it a",
                                  Select([("prospect", "prospect"), ("customer", "customer")],
                                         value="prospect", allow_blank=False,
                                         id="field-to_status", compact=True))
            yield Static(id="error-form", classes="field-error", markup=False)
            yield Static("Imported contacts wait in the inbox with restricted actions until "
                         "somebody reviews them. ctrl+s reviews.", classes="hint")
            yield from self.buttons(("save", "Review", "primary"), ("cancel", "Cancel", "default"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#field-to_status", Select).focus()

    def action_save(self) -> None:
        self._to_status = self.selected("to_status") or "prospect"
        self.start_save()

    def write(self, session) -> None:
        from crm_tui.services.lifecycle import review_contact

        review_contact(session, self.workspace.actor, self.contact_id, to_status=self._to_status,
                       settings=self.workspace.settings)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()
