"""The contact form, for a new contact and for editing one: a modal that saves itself and dismisses
with the contact's id (None on cancel).

- Every field of a contact; the fields the chosen status requires (configurable, `[required]` in
  the config file; seed 001's list for a prospect) are marked `*`.
- The service validates: its `ValidationError(field, message)` appears next to the field and
  nothing is written.
- Customer number: type one, or ctrl+n takes the next number of the chosen number sequence.
- While a new contact is typed, existing contacts that look like it (any status: converted,
  archived and closed ones too) are listed under the form, with why they match and who holds a
  prospect's lock (debounced `duplicates.find_duplicates`).
- An edit sends only the fields changed since the form loaded, with the version and values it
  loaded; if somebody saved meanwhile, the conflict dialog lets the rep choose
  (`save_with_conflicts.save_or_resolve`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.contacts import ContactDetail
    from crm_tui.services.duplicates import DuplicateMatch
    from crm_tui.services.errors import ConflictError
    from crm_tui.workspace import Workspace

STATUSES = ("prospect", "customer", "inbox", "archived", "closed")
KINDS = ("person", "company")
INPUT_FIELDS = (
    "name", "first_name", "company", "email", "phone", "mobile", "street", "postal_code", "city",
    "region", "country", "source", "contacted_on", "expected_revenue", "currency",
    "customer_number",
)
SELECT_FIELDS = ("kind", "status", "assigned_to")
FORM_FIELDS = (*SELECT_FIELDS, *INPUT_FIELDS, "description")
"""Every field the form sends (the service's `EDITABLE_FIELDS`)."""
BASIC_FIELDS = ("name", "first_name", "company", "email", "phone", "city")
"""Kept for callers of the first version of this form."""
LABELS = {
    "kind": "Kind", "status": "Status", "name": "Name", "first_name": "First name",
    "company": "Company", "email": "E-mail", "phone": "Phone", "mobile": "Mobile",
    "street": "Street", "postal_code": "Postal code", "city": "City", "region": "State/region",
    "country": "Country", "source": "Source", "assigned_to": "Assigned to",
    "contacted_on": "Contacted on", "expected_revenue": "Expected revenue", "currency": "Currency",
    "customer_number": "Customer no.", "description": "Description",
}
PLACEHOLDERS = {
    "contacted_on": "2026-11-23, today, -3d", "email": "name@example.com",
    "expected_revenue": "12000 or 12.000,00", "currency": "EUR",
    "customer_number": "type one, or ctrl+n",
    "phone": "+49 2761 12345", "name": "last name, or the company's name",
}
DUPLICATE_FIELDS = ("kind", "name", "first_name", "company", "email", "phone", "mobile")
DUPLICATE_DELAY = 0.3
"""Seconds of quiet typing before the duplicate check runs (tests set 0)."""
DUPLICATES_SHOWN = 2
"""Matches shown under the form (two lines each); the count says how many there are."""


def as_text(value: object) -> str:
    """A stored value as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


class ContactFormScreen(ReportsWorkerErrors, ModalScreen[int | None]):
    """New contact (or, with `contact_id`, edit one): every field, saved by the service."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("ctrl+n", "next_number", "Next customer no.", id="form.next_number"),
        Binding("ctrl+o", "edit_description", "Description in $EDITOR", show=False,
                id="form.editor"),
    ]

    DEFAULT_CSS = """
    ContactFormScreen {
        align: center middle;
    }
    ContactFormScreen > #form-box {
        width: 72;
        max-width: 100%;
        height: 100%;
        max-height: 42;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    ContactFormScreen #form-title {
        text-style: bold;
        height: 1;
    }
    ContactFormScreen #form-fields {
        height: 1fr;
    }
    ContactFormScreen .field-row {
        height: 1;
    }
    ContactFormScreen .field-row Label {
        width: 18;
    }
    ContactFormScreen .field-row.-required Label {
        text-style: bold;
    }
    ContactFormScreen .field-row Input, ContactFormScreen .field-row Select {
        width: 1fr;
    }
    ContactFormScreen #field-sequence {
        width: 22;
        margin-left: 1;
    }
    ContactFormScreen #row-description {
        height: 4;
    }
    ContactFormScreen #field-description {
        height: 4;
        width: 1fr;
    }
    ContactFormScreen .field-error {
        color: $error;
        padding-left: 18;
        height: auto;
        display: none;
    }
    ContactFormScreen .field-error.-shown {
        display: block;
    }
    ContactFormScreen #error-form {
        padding-left: 0;
    }
    ContactFormScreen #duplicates {
        height: auto;
        max-height: 6;
        color: $warning;
        border-top: solid $warning;
        display: none;
    }
    ContactFormScreen #duplicates.-shown {
        display: block;
    }
    ContactFormScreen #form-buttons {
        height: 1;
        align-horizontal: right;
    }
    ContactFormScreen #form-buttons Button {
        margin-left: 2;
    }
    """

    class Loaded(Message):
        def __init__(self, detail: ContactDetail | None, assignees: list[tuple[str, str]],
                     sequences: list[tuple[str, str]]) -> None:
            super().__init__()
            self.detail = detail
            self.assignees = assignees
            self.sequences = sequences

    class Saved(Message):
        def __init__(self, contact_id: int | None) -> None:
            super().__init__()
            self.contact_id = contact_id

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    class Duplicates(Message):
        def __init__(self, key: tuple[str, ...], matches: list[DuplicateMatch]) -> None:
            super().__init__()
            self.key = key
            self.matches = matches

    class Numbered(Message):
        def __init__(self, number: str) -> None:
            super().__init__()
            self.number = number

    def __init__(self, workspace: Workspace, status: str = "prospect", *,
                 contact_id: int | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.initial_status = status
        self.contact_id = contact_id
        self.detail: ContactDetail | None = None
        self.base: dict[str, object] = {}
        """The loaded values (an edit's `base`)."""
        self.matches: list[DuplicateMatch] = []
        """The duplicates found for what is typed now."""
        self._duplicate_timer: Timer | None = None
        self._duplicate_key: tuple[str, ...] = ()
        self._saving = False
        self._loaded = contact_id is None

    @property
    def editing(self) -> bool:
        return self.contact_id is not None

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        title = "Edit contact" if self.editing else "New contact"
        with Vertical(id="form-box"):
            yield Static(f"{title}   [dim]ctrl+s save · ctrl+n next no. · escape cancel[/]",
                         id="form-title")
            with VerticalScroll(id="form-fields"):
                yield from self._select("kind", [(k, k) for k in KINDS], "person")
                yield from self._select("status", [(s, s) for s in STATUSES], self.initial_status)
                for name in ("name", "first_name", "company", "email", "phone", "mobile", "street",
                             "postal_code", "city", "region", "country", "source"):
                    yield from self._input(name)
                yield from self._select("assigned_to", [("everybody", "everybody")], "everybody")
                for name in ("contacted_on", "expected_revenue", "currency"):
                    yield from self._input(name)
                with Horizontal(classes="field-row", id="row-customer_number"):
                    yield Label(LABELS["customer_number"])
                    yield Input(id="field-customer_number", compact=True,
                                placeholder=PLACEHOLDERS["customer_number"])
                    yield Select([], prompt="sequence", id="field-sequence", compact=True)
                yield Static(id="error-customer_number", classes="field-error", markup=False)
                with Horizontal(classes="field-row", id="row-description"):
                    yield Label(LABELS["description"])
                    yield TextArea(id="field-description", compact=True, soft_wrap=True)
                yield Static(id="error-description", classes="field-error", markup=False)
            yield Static(id="error-form", classes="field-error", markup=False)
            yield Static(id="duplicates", markup=False)
            with Horizontal(id="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _input(self, name: str) -> ComposeResult:
        with Horizontal(classes="field-row", id=f"row-{name}"):
            yield Label(LABELS[name])
            yield Input(id=f"field-{name}", compact=True, placeholder=PLACEHOLDERS.get(name, ""))
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def _select(self, name: str, options: list[tuple[str, str]], value: str) -> ComposeResult:
        with Horizontal(classes="field-row", id=f"row-{name}"):
            yield Label(LABELS[name])
            yield Select(options, value=value, allow_blank=False, id=f"field-{name}", compact=True)
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self._show_required(self.initial_status)
        if self.editing:
            self.query_one("#field-status", Select).disabled = True
            self.query_one("#form-fields").loading = True
        self.query_one("#field-name", Input).focus()
        self.load()

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="load contact form")
    def load(self) -> None:
        from crm_tui.services.catalog import list_users
        from crm_tui.services.contacts import get_contact
        from crm_tui.services.sequences import list_sequences
        from crm_tui.services.users import list_teams

        workspace = self.workspace

        def read(session):
            detail = get_contact(session, workspace.actor, self.contact_id) if self.editing else None
            assignees = [("everybody", "everybody")]
            assignees += [(f"{u.name or u.login} ({u.login})", u.login)
                          for u in list_users(session) if u.active]
            assignees += [(f"team {t.name}", f"team:{t.name}") for t in list_teams(session)]
            sequences = [(f"next {s.preview}", s.name)
                         for s in list_sequences(session, workspace.actor.today())]
            return detail, assignees, sequences

        try:
            detail, assignees, sequences = workspace.read(read)
        except Exception as error:
            from crm_tui.services.errors import ServiceError

            if not isinstance(error, ServiceError):
                raise
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Loaded(detail, assignees, sequences))

    @on(Loaded)
    def _filled(self, message: Loaded) -> None:
        assigned = self.query_one("#field-assigned_to", Select)
        options = list(message.assignees)
        detail = message.detail
        current = (detail.assigned_to or "everybody") if detail else self.workspace.actor.login
        if current not in {v for _, v in options}:
            options.append((current, current))
        assigned.set_options(options)
        assigned.value = current
        sequences = self.query_one("#field-sequence", Select)
        sequences.set_options(message.sequences)
        if message.sequences:
            sequences.value = message.sequences[0][1]
        if detail is not None:
            self.detail = detail
            self.base = detail.form_values()
            for name in INPUT_FIELDS:
                self.query_one(f"#field-{name}", Input).value = as_text(self.base.get(name))
            self.query_one("#field-description", TextArea).text = detail.description or ""
            self.query_one("#field-kind", Select).value = detail.kind
            status = self.query_one("#field-status", Select)
            status.value = detail.status
            self._show_required(detail.status)
            title = f"Edit {detail.display_name}"
            self.query_one("#form-title", Static).update(
                Text.assemble((title, "bold"), ("   ctrl+s save · escape cancel", "dim"))
            )
            self.query_one("#form-fields").loading = False
            self.query_one("#field-name", Input).focus()
        self._loaded = True

    # -- required fields by status -----------------------------------------------------------

    def _required(self, status: str) -> tuple[str, ...]:
        return self.workspace.settings.required.for_status(status)

    def _show_required(self, status: str) -> None:
        required = set(self._required(status))
        for name in FORM_FIELDS:
            found = self.query(f"#row-{name}")
            if not found:  # the form is being taken down (the app quitting)
                return
            row = found.first()
            row.set_class(name in required, "-required")
            row.query_one(Label).update(LABELS[name] + (" *" if name in required else ""))

    @on(Select.Changed, "#field-status")
    def _status_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._show_required(event.value)

    # -- values ------------------------------------------------------------------------------

    def _status(self) -> str:
        value = self.query_one("#field-status", Select).value
        return value if isinstance(value, str) else "prospect"

    def field_text(self, name: str) -> str:
        if name == "description":
            return self.query_one("#field-description", TextArea).text.strip()
        widget = self.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            return widget.value if isinstance(widget.value, str) else ""
        assert isinstance(widget, Input)
        return widget.value.strip()

    def values(self) -> dict[str, object]:
        """What the form sends: for a new contact every filled field (with its status and kind),
        for an edit the fields that differ from what was loaded."""
        if self.editing:
            changed: dict[str, object] = {}
            for name in FORM_FIELDS:
                if name == "status":
                    continue
                text = self.field_text(name)
                loaded = as_text(self.base.get(name))
                if name == "assigned_to":
                    loaded = loaded or "everybody"
                if text != loaded.strip():
                    changed[name] = text
            return changed
        values: dict[str, object] = {"status": self._status(), "kind": self.field_text("kind") or "person"}
        for name in FORM_FIELDS:
            if name in values:
                continue
            text = self.field_text(name)
            if text:
                values[name] = text
        return values

    # -- errors ------------------------------------------------------------------------------

    def _clear_errors(self) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")

    def show_error(self, field: str, text: str) -> None:
        self._clear_errors()
        target = field if self.query(f"#error-{field}") else "form"
        label = self.query_one(f"#error-{target}", Static)
        if target == field:
            label.update(text)
        else:
            label.update(f"{LABELS.get(field, field)}: {text}")
        label.add_class("-shown")
        label.scroll_visible()
        if self.query(f"#field-{field}"):
            self.query_one(f"#field-{field}").focus()

    # -- saving ------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self._saving or not self._loaded:
            return
        self._clear_errors()
        values = self.values()
        if self.editing and not values:
            self.dismiss(self.contact_id)
            return
        self._saving = True
        self.save(values)

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

    @work(thread=True, exclusive=True, exit_on_error=False, group="save", name="save contact")
    def save(self, values: dict[str, object]) -> None:
        from crm_tui.services.contacts import create_contact
        from crm_tui.services.errors import ConflictError, ServiceError, ValidationError

        workspace = self.workspace
        try:
            if self.editing:
                assert self.detail is not None
                contact_id = self._save_edit(values, self.detail.version, self.base)
            else:
                contact_id = workspace.write(
                    lambda s: create_contact(s, workspace.actor, values, settings=workspace.settings).id
                )
        except ConflictError as error:
            self._conflict(error)
            return
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        except ServiceError as error:
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Saved(contact_id))

    def _save_edit(self, values: dict[str, object], expected_version: int,
                   base: dict[str, object]) -> int:
        """One edit save (blocking; also what the conflict helper calls with a resolution)."""
        from crm_tui.services.contacts import update_contact

        workspace = self.workspace
        return workspace.write(
            lambda s: update_contact(s, workspace.actor, self.contact_id, values,
                                     expected_version=expected_version, base=base,
                                     settings=workspace.settings).id
        )

    def _conflict(self, error: ConflictError) -> None:
        """Somebody saved this contact after the form loaded it: let the rep choose."""
        try:
            from crm_tui.screens.modals.save_with_conflicts import save_or_resolve
        except ImportError:
            self.post_message(self.Rejected(
                "form", f"{error} — not saved: escape, then open the contact again"))
            return
        save_or_resolve(self, self._save_edit, error, self._resolved, labels=LABELS,
                        on_failed=self._resolution_failed, on_cancelled=self._resolution_cancelled)

    def _resolved(self, contact_id: int | None) -> None:
        self._saving = False
        self.dismiss(self.contact_id if contact_id is None else contact_id)

    def _resolution_failed(self, error: Exception) -> None:
        from crm_tui.services.errors import ValidationError

        self._saving = False
        if isinstance(error, ValidationError):
            self.show_error(error.field, error.message)
        else:
            self.show_error("form", str(error))

    def _resolution_cancelled(self) -> None:
        self._saving = False
        self.show_error("form", "not saved: somebody else changed this contact meanwhile "
                                "(ctrl+s to choose again)")

    @on(Rejected)
    def _rejected(self, message: Rejected) -> None:
        self._saving = False
        self.show_error(message.field, message.text)

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        self._saving = False
        self.dismiss(message.contact_id)

    # -- customer numbers --------------------------------------------------------------------

    def action_next_number(self) -> None:
        if self.query_one("#field-customer_number", Input).value.strip():
            self.show_error("customer_number", "clear the field first to take a new number")
            return
        value = self.query_one("#field-sequence", Select).value
        if not isinstance(value, str):
            self.show_error("customer_number", "no number sequence is configured (Settings)")
            return
        self.take_number(value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="number", name="next customer number")
    def take_number(self, sequence: str) -> None:
        from crm_tui.services.errors import ValidationError
        from crm_tui.services.sequences import next_customer_number

        workspace = self.workspace
        try:
            number = workspace.write(
                lambda s: next_customer_number(s, sequence, today=workspace.actor.today())
            )
        except ValidationError as error:
            self.post_message(self.Rejected("customer_number", error.message))
            return
        self.post_message(self.Numbered(number))

    @on(Numbered)
    def _numbered(self, message: Numbered) -> None:
        field = self.query_one("#field-customer_number", Input)
        field.value = message.number
        self._clear_errors()

    # -- $EDITOR -----------------------------------------------------------------------------

    async def action_edit_description(self) -> None:
        try:
            from crm_tui.widgets.editor import edit_text
        except ImportError:
            self.notify("Editing in $EDITOR is not available in this version.", severity="warning")
            return
        area = self.query_one("#field-description", TextArea)
        result = edit_text(self.app, area.text, ".txt")
        if hasattr(result, "__await__"):
            result = await result
        if isinstance(result, str):
            area.text = result.rstrip("\n")

    # -- duplicates --------------------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed, "#field-kind")
    def _maybe_duplicates(self, event: Input.Changed | Select.Changed) -> None:
        widget_id = event.control.id or ""
        if widget_id.removeprefix("field-") not in DUPLICATE_FIELDS or not self._loaded:
            return
        if self._duplicate_timer is not None:
            self._duplicate_timer.stop()
        if DUPLICATE_DELAY > 0:
            self._duplicate_timer = self.set_timer(DUPLICATE_DELAY, self._check_duplicates)
        else:
            self.call_later(self._check_duplicates)

    def _check_duplicates(self) -> None:
        self._duplicate_timer = None
        values = {name: self.field_text(name) for name in DUPLICATE_FIELDS}
        key = tuple(values[name] for name in DUPLICATE_FIELDS)
        if key == self._duplicate_key:
            return
        self._duplicate_key = key
        if not any(values[name] for name in DUPLICATE_FIELDS if name != "kind"):
            self._show_duplicates([])
            return
        self.find_duplicates(key, values)

    @work(thread=True, exclusive=True, exit_on_error=False, group="duplicates", name="check duplicates")
    def find_duplicates(self, key: tuple[str, ...], values: dict[str, str]) -> None:
        from crm_tui.services.duplicates import find_duplicates

        matches = self.workspace.read(
            lambda s: find_duplicates(s, values, exclude_id=self.contact_id, limit=20)
        )
        self.post_message(self.Duplicates(key, matches))

    @on(Duplicates)
    def _duplicates_found(self, message: Duplicates) -> None:
        if message.key == self._duplicate_key:
            self._show_duplicates(message.matches)

    def _show_duplicates(self, matches: list[DuplicateMatch]) -> None:
        self.matches = matches
        panel = self.query_one("#duplicates", Static)
        panel.set_class(bool(matches), "-shown")
        if not matches:
            panel.update("")
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        count = len(matches)
        text.append(f"⚠ {count} possible duplicate{'s' if count != 1 else ''} (any status):",
                    style="bold")
        for match in matches[:DUPLICATES_SHOWN]:
            text.append("\n")
            text.append(f" #{match.id} {match.display_name}", style="bold")
            details = [d for d in (match.company if match.company != match.name else "",
                                   match.city, match.status) if d]
            text.append(" · " + " · ".join(details))
            text.append("\n   " + match.why, style="")
            if match.locked_by:
                until = f"{match.locked_until:%Y-%m-%d}" if match.locked_until else "?"
                text.append(f" · 🔒 locked by {match.locked_by} until {until}", style="bold")
            elif match.assigned_to:
                text.append(f" · assigned to {match.assigned_to}", style="dim")
        if count > DUPLICATES_SHOWN:
            text.append(f"\n … and {count - DUPLICATES_SHOWN} more", style="dim")
        panel.update(text)
