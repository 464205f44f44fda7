"""Plan or log an activity: a modal that saves itself and dismisses with the new activity's id
(None when cancelled).

`ActivityForm(workspace, *, contact_id, opportunity_id=None, draft=None, log=False, due=None)`
is the one contract every screen uses (the board, the contact card, the calendar, My
activities). Choosing a type fills its defaults (summary, note, assignee, reminder) into the
fields the rep has not typed in; a chaining `ActivityDraft` pre-fills the whole form. With
`complete=CompleteRequest(...)` the form is the second half of "done & plan next": it asks for
the feedback on the activity being completed and saves both in one transaction, so a refused
date (or anything else) writes nothing at all.

Without a `contact_id` (the calendar's "plan on this day") the form first asks for the contact
with `ContactPicker`, a search-as-you-type list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.activity_types import ActivityTypeRow
    from crm_tui.services.chaining import ActivityDraft
    from crm_tui.workspace import Workspace

PRIORITIES = (("normal", 0), ("high", 1), ("very high", 2), ("urgent", 3))
LABELS = {
    "type": "Type", "summary": "Summary", "note": "Note", "due": "Due", "time": "Time",
    "assigned_to": "Assignee", "priority": "Priority", "reminder_minutes": "Reminder",
    "place": "Place", "goal": "Goal", "feedback": "Feedback", "file": "File",
    "contact_id": "Contact", "opportunity_id": "Opportunity",
}
TEXT_FIELDS = ("summary", "note", "assigned_to", "place", "goal", "reminder_minutes")
"""Inputs a type's defaults may fill (those still empty or holding the last type's default)."""

FORM_CSS = """
{form} {{
    align: center middle;
}}
{form} > Vertical {{
    width: 74;
    max-width: 100%;
    height: auto;
    max-height: 100%;
    border: round $primary;
    background: $surface;
    padding: 0 1;
}}
{form} .form-title {{
    text-style: bold;
    height: 1;
}}
{form} .form-subtitle {{
    color: $text-muted;
    height: 1;
}}
{form} VerticalScroll {{
    height: auto;
    max-height: 80vh;
}}
{form} .field-row {{
    height: 1;
}}
{form} .field-row Label {{
    width: 11;
}}
{form} .field-row Input, {form} .field-row Select {{
    width: 1fr;
}}
{form} .field-row .narrow {{
    width: 14;
}}
{form} .field-row .tiny {{
    width: 8;
}}
{form} .field-row .gap {{
    width: 2;
}}
{form} .field-row .hint {{
    width: 1fr;
    color: $text-muted;
    padding-left: 1;
}}
{form} .field-error {{
    color: $error;
    padding-left: 11;
    height: auto;
    display: none;
}}
{form} .field-error.-shown {{
    display: block;
}}
{form} .form-buttons {{
    height: 1;
    margin-top: 1;
    align-horizontal: right;
}}
{form} .form-buttons Button {{
    margin-left: 2;
}}
"""


@dataclass(frozen=True)
class CompleteRequest:
    """The open activity that "done & plan next" completes when the form is saved."""

    activity_id: int
    label: str
    """ "Anruf: Anrufen", shown above the feedback field."""
    category: str
    """An `upload` activity also asks for a file to attach."""


@dataclass(frozen=True)
class FormData:
    types: list[ActivityTypeRow]
    assignees: list[str]
    """Logins and `team:NAME`s, for the assignee field's completion."""
    contact: str
    opportunity: str | None
    today: date


@dataclass(frozen=True)
class PickedContact:
    id: int
    label: str


class FormErrors:
    """Errors shown next to their field (mixin for the modal forms of this package)."""

    def clear_errors(self) -> None:
        for error in self.query(".field-error"):  # type: ignore[attr-defined]
            error.remove_class("-shown")

    def show_error(self, field: str, text: str) -> None:
        self.clear_errors()
        target = field if self.query(f"#error-{field}") else "form"  # type: ignore[attr-defined]
        label = self.query_one(f"#error-{target}", Static)  # type: ignore[attr-defined]
        if target == "form" and field not in ("form", "id"):
            text = f"{LABELS.get(field, field)}: {text}"
        label.update(text)
        label.add_class("-shown")
        label.scroll_visible()
        if self.query(f"#field-{field}"):  # type: ignore[attr-defined]
            widget = self.query_one(f"#field-{field}")  # type: ignore[attr-defined]
            widget.focus()
            if isinstance(widget, Input):
                widget.select_all()  # typing replaces what was refused


def field_row(name: str, widget: Any, label: str | None = None) -> ComposeResult:
    with Horizontal(classes="field-row", id=f"row-{name}"):
        yield Label(label or LABELS.get(name, name))
        yield widget
    yield Static(id=f"error-{name}", classes="field-error", markup=False)


class Saved(Message):
    """A form's worker finished: dismiss with `value`."""

    def __init__(self, value: object) -> None:
        super().__init__()
        self.value = value


class Rejected(Message):
    """A form's worker was refused: show `text` next to `field`."""

    def __init__(self, field: str, text: str) -> None:
        super().__init__()
        self.field = field
        self.text = text


def rejection(error: Exception) -> Rejected:
    from crm_tui.services.errors import ValidationError

    if isinstance(error, ValidationError):
        return Rejected(error.field, error.message)
    return Rejected("form", str(error))


class ActivityForm(FormErrors, ReportsWorkerErrors, ModalScreen[int | None]):
    """Plan (or log, `log=True`) an activity on a contact or an opportunity."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="activity_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="activity_form.save"),
        Binding("ctrl+g", "edit_note", "Note in $EDITOR", show=False, id="activity_form.editor"),
        Binding("ctrl+o", "pick_contact", "Pick contact", id="activity_form.pick_contact"),
    ]

    def action_edit_note(self) -> None:
        from crm_tui.widgets.editor import edit_field

        edit_field(self.app, self.query_one("#field-note"), ".txt")

    DEFAULT_CSS = FORM_CSS.format(form="ActivityForm")

    class Loaded(Message):
        def __init__(self, data: FormData) -> None:
            super().__init__()
            self.data = data

    def __init__(
        self,
        workspace: Workspace,
        *,
        contact_id: int | None,
        opportunity_id: int | None = None,
        draft: ActivityDraft | None = None,
        log: bool = False,
        due: date | str | None = None,
        complete: CompleteRequest | None = None,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.contact_id = draft.contact_id if draft is not None else contact_id
        self.opportunity_id = draft.opportunity_id if draft is not None else opportunity_id
        self.draft = draft
        self.log_done = log
        """Log an activity that happened (saved as done) rather than plan one."""
        self.due = due
        self.complete = complete
        self.data: FormData | None = None
        self._pickable = self.contact_id is None
        """Opened without a contact (the calendar): the rep picks it, and may pick another."""
        self._type_id: int | None = None
        self._defaults: dict[str, str] = {}
        """What the current type filled in, field by field (a field still equal to it is
        refilled when the type changes; one the rep typed in is kept)."""
        self._saving = False

    # -- layout ------------------------------------------------------------------------------

    def _title(self) -> str:
        if self.complete is not None:
            return "Done & plan next"
        return "Log activity (saved as done)" if self.log_done else "Plan activity"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble((self._title(), "bold"), ("   ctrl+s save · esc cancel", "dim")),
                         classes="form-title", id="form-title")
            yield Static("loading…", classes="form-subtitle", id="form-subtitle")
            yield Static(id="error-contact_id", classes="field-error", markup=False)
            with VerticalScroll():
                if self.complete is not None:
                    yield Static(Text.assemble(("✓ ", "green"), self.complete.label),
                                 classes="form-subtitle", id="form-completing")
                    yield from field_row("feedback", Input(
                        id="field-feedback", compact=True, placeholder="how it went"))
                    if self.complete.category == "upload":
                        yield from field_row("file", Input(
                            id="field-file", compact=True, placeholder="path of the document to attach"))
                    yield Static("Next activity", classes="form-subtitle")
                yield from field_row("type", Select(
                    [], id="field-type", compact=True, allow_blank=True, prompt="choose a type"))
                yield from field_row("summary", Input(id="field-summary", compact=True))
                yield from field_row("note", Input(id="field-note", compact=True))
                with Horizontal(classes="field-row", id="row-due"):
                    yield Label(LABELS["due"])
                    yield Input(id="field-due", compact=True, classes="narrow",
                                placeholder="+3d, mon, 1.12.")
                    yield Static("", id="due-hint", classes="hint", markup=False)
                    yield Label(LABELS["time"], classes="tiny")
                    yield Input(id="field-time", compact=True, classes="tiny", placeholder="HH:MM")
                yield Static(id="error-due", classes="field-error", markup=False)
                yield Static(id="error-time", classes="field-error", markup=False)
                yield from field_row("assigned_to", Input(
                    id="field-assigned_to", compact=True, placeholder="me · a login · team:NAME"))
                with Horizontal(classes="field-row", id="row-priority"):
                    yield Label(LABELS["priority"])
                    yield Select([(label, value) for label, value in PRIORITIES], value=0,
                                 allow_blank=False, id="field-priority", compact=True,
                                 classes="narrow")
                    yield Static("", classes="gap")
                    yield Label(LABELS["reminder_minutes"])
                    yield Input(id="field-reminder_minutes", compact=True, classes="tiny",
                                placeholder="min")
                    yield Static("minutes before", classes="hint")
                yield Static(id="error-priority", classes="field-error", markup=False)
                yield Static(id="error-reminder_minutes", classes="field-error", markup=False)
                yield from field_row("place", Input(id="field-place", compact=True))
                yield from field_row("goal", Input(id="field-goal", compact=True))
                if self.log_done:
                    yield from field_row("feedback", Input(
                        id="field-feedback", compact=True, placeholder="how it went"))
                yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#field-due", Input).value = self._initial_due()
        if self.complete is not None:
            self.query_one("#field-feedback", Input).focus()
        else:
            self.query_one("#field-type", Select).focus()
        if self.contact_id is None:
            self.call_after_refresh(self.action_pick_contact)
        else:
            self.load(self.contact_id, self.opportunity_id)

    def _initial_due(self) -> str:
        if self.draft is not None:
            return self.draft.due.isoformat()
        if isinstance(self.due, date):
            return self.due.isoformat()
        if self.due:
            return str(self.due)
        return self.workspace.actor.today().isoformat()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick_contact":
            return self._pickable
        return True

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="activity form data")
    def load(self, contact_id: int, opportunity_id: int | None) -> None:
        from crm_tui.services.activity_types import list_types
        from crm_tui.services.contacts import get_contact
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.opportunities import get_opportunity
        from crm_tui.services.users import list_teams, list_users

        workspace = self.workspace
        actor = workspace.actor

        def read(session) -> FormData:
            types = list_types(session, include_inactive=False)
            if self.draft is not None and all(t.id != self.draft.type_id for t in types):
                from crm_tui.services.activity_types import get_type

                types.append(get_type(session, self.draft.type_id))
            people = [u.login for u in list_users(session, include_inactive=False)]
            teams = [f"team:{t.name}" for t in list_teams(session)]
            contact = get_contact(session, actor, contact_id)
            label = contact.display_name + (f" ({contact.company})" if contact.company
                                            and contact.company != contact.name else "")
            opportunity = (get_opportunity(session, actor, opportunity_id).title
                           if opportunity_id is not None else None)
            return FormData(types, people + teams, label, opportunity, actor.today())

        try:
            data = workspace.read(read)
        except ServiceError as error:
            self.post_message(Rejected("contact_id", str(error)))
            return
        self.post_message(self.Loaded(data))

    def on_activity_form_loaded(self, message: ActivityForm.Loaded) -> None:
        data = self.data = message.data
        self._show_subtitle(data.contact + (f" · {data.opportunity}" if data.opportunity else ""))
        self.query_one("#field-assigned_to", Input).suggester = SuggestFromList(
            data.assignees, case_sensitive=False)
        select = self.query_one("#field-type", Select)
        draft = self.draft
        if draft is not None:
            self._type_id = draft.type_id
            select.set_options([(t.name, t.id) for t in data.types])
            select.value = draft.type_id
            self._fill({
                "summary": draft.summary, "note": draft.note, "assigned_to": draft.assigned_to or "",
                "reminder_minutes": "" if draft.reminder_minutes is None else str(draft.reminder_minutes),
            }, force=True)
            self._set("time", draft.time.strftime("%H:%M") if draft.time else "")
            kind = self._kind(draft.type_id)
            if kind is not None:
                self._defaults = self._type_defaults(kind)
        else:
            select.set_options([(t.name, t.id) for t in data.types])
            if data.types:
                select.value = data.types[0].id  # fills the defaults (Select.Changed)
        self._show_due_hint()

    # -- type defaults -----------------------------------------------------------------------

    def _kind(self, type_id: object) -> ActivityTypeRow | None:
        if self.data is None:
            return None
        return next((t for t in self.data.types if t.id == type_id), None)

    @staticmethod
    def _type_defaults(kind: ActivityTypeRow) -> dict[str, str]:
        return {
            "summary": kind.default_summary or kind.name,
            "note": kind.default_note,
            "assigned_to": kind.default_assignee or "",
            "reminder_minutes": "" if kind.default_reminder_minutes is None
            else str(kind.default_reminder_minutes),
        }

    def _set(self, name: str, value: str) -> None:
        self.query_one(f"#field-{name}", Input).value = value.replace("\n", " ")

    def _fill(self, values: dict[str, str], force: bool = False) -> None:
        for name, value in values.items():
            field = self.query_one(f"#field-{name}", Input)
            if force or not field.value.strip() or field.value == self._defaults.get(name, ""):
                self._set(name, value)

    @on(Select.Changed, "#field-type")
    def _type_changed(self, event: Select.Changed) -> None:
        kind = self._kind(event.value)
        if kind is None or kind.id == self._type_id:
            return
        self._type_id = kind.id
        defaults = self._type_defaults(kind)
        self._fill(defaults)
        self._defaults = defaults

    # -- the due date hint -------------------------------------------------------------------

    @on(Input.Changed, "#field-due")
    def _due_changed(self) -> None:
        self._show_due_hint()

    def _show_due_hint(self) -> None:
        from crm_tui.services.dates import parse_date
        from crm_tui.services.errors import ValidationError

        text = self.query_one("#field-due", Input).value
        today = self.data.today if self.data else self.workspace.actor.today()
        try:
            day = parse_date(text, today)
        except ValidationError:
            hint = "?" if text.strip() else ""
        else:
            hint = f"{day:%a %d %b %Y}"
        self.query_one("#due-hint", Static).update(hint)

    # -- the contact -------------------------------------------------------------------------

    def action_pick_contact(self) -> None:
        self.app.push_screen(ContactPicker(self.workspace), self._contact_picked)

    def _contact_picked(self, picked: PickedContact | None) -> None:
        if picked is None:
            if self.contact_id is None:
                self.dismiss(None)
            return
        self.contact_id = picked.id
        self.opportunity_id = None
        self._show_subtitle(picked.label)
        self.load(picked.id, None)

    def _show_subtitle(self, text: str) -> None:
        line = Text(text, no_wrap=True, overflow="ellipsis")
        if self.check_action("pick_contact", ()):
            line.append("   ctrl+o another contact", style="dim")
        self.query_one("#form-subtitle", Static).update(line)

    # -- saving ------------------------------------------------------------------------------

    def _input(self, name: str) -> str:
        found = self.query(f"#field-{name}")
        return found.first(Input).value if found else ""

    def values(self) -> dict[str, object]:
        type_value = self.query_one("#field-type", Select).value
        priority = self.query_one("#field-priority", Select).value
        values: dict[str, object] = {
            "type": type_value if isinstance(type_value, int) else "",
            "contact_id": self.contact_id,
            "opportunity_id": self.opportunity_id,
            "due": self._input("due"),
            "time": self._input("time"),
            "priority": priority if isinstance(priority, int) else 0,
        }
        for name in TEXT_FIELDS:
            values[name] = self._input(name)
        if self.log_done:
            values["feedback"] = self._input("feedback")
        return values

    def action_save(self) -> None:
        if self._saving:
            return
        if self.contact_id is None:
            self.show_error("contact_id", "choose a contact first (ctrl+o)")
            return
        self.clear_errors()
        self._saving = True
        self.save(self.values(), self._input("feedback"), self._input("file"))

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

    @work(thread=True, exclusive=True, exit_on_error=False, group="save", name="save activity")
    def save(self, values: dict[str, object], feedback: str, file: str) -> None:
        from crm_tui.services.activities import plan_activity
        from crm_tui.services.chaining import mark_done, plan_from_draft
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        actor, settings = workspace.actor, workspace.settings
        draft, complete = self.draft, self.complete

        def write(session) -> int:
            if complete is not None:
                chained = draft is not None and draft.previous_id == complete.activity_id
                result = mark_done(
                    session, actor, complete.activity_id, feedback, plan_next=chained,
                    next_edits=values if chained else None, file=file.strip() or None,
                    settings=settings,
                )
                if result.created is not None:
                    return result.created.id
                # The done type does not chain (or chains elsewhere): plan the form's
                # activity as its follow-up, in the same transaction.
                return plan_activity(session, actor, values, settings=settings,
                                     previous_id=complete.activity_id).id
            if draft is not None:
                return plan_from_draft(session, actor, draft, values, settings=settings).id
            return plan_activity(session, actor, values, settings=settings, done=self.log_done).id

        try:
            activity_id = workspace.write(write)
        except ServiceError as error:
            self.post_message(rejection(error))
            return
        self.post_message(Saved(activity_id))

    def on_rejected(self, message: Rejected) -> None:
        self._saving = False
        self.show_error(message.field, message.text)

    def on_saved(self, message: Saved) -> None:
        self.dismiss(message.value)  # type: ignore[arg-type]


class ContactPicker(ReportsWorkerErrors, ModalScreen[PickedContact | None]):
    """Find a contact by name, first name, company, phone, e-mail or city; enter picks it."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="contact_picker.cancel"),
        Binding("down", "to_list", "Results", show=False, id="contact_picker.results"),
    ]

    DEFAULT_CSS = FORM_CSS.format(form="ContactPicker") + """
    ContactPicker OptionList {
        height: auto;
        max-height: 12;
        border: none;
        padding: 0;
    }
    """

    LIMIT = 10

    class Found(Message):
        def __init__(self, query: str, rows: list[PickedContact], error: str = "") -> None:
            super().__init__()
            self.query = query
            self.rows = rows
            self.error = error

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.rows: list[PickedContact] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble(("Contact for the activity", "bold"),
                                       ("   type to search · ↓ enter pick · esc cancel", "dim")),
                         classes="form-title")
            yield Input(id="picker-search", compact=True,
                        placeholder="name, company, phone, e-mail, city")
            yield Static("", id="picker-status", classes="form-subtitle", markup=False)
            yield OptionList(id="picker-results", compact=True)

    def on_mount(self) -> None:
        self.query_one("#picker-search", Input).focus()
        self.search("")

    @on(Input.Changed, "#picker-search")
    def _changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#picker-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.rows:
            self.dismiss(self.rows[0])

    def action_to_list(self) -> None:
        results = self.query_one("#picker-results", OptionList)
        if self.rows:
            results.focus()
            results.highlighted = 0

    @on(OptionList.OptionSelected, "#picker-results")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.rows[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, exit_on_error=False, name="find contacts")
    def search(self, query: str) -> None:
        from crm_tui.services.contacts import list_contacts
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.query import parse

        workspace = self.workspace
        actor = workspace.actor
        try:
            filt = parse(query, actor.today())
            rows = workspace.read(lambda s: list_contacts(s, actor, filt, limit=self.LIMIT))
        except ServiceError as error:
            self.post_message(self.Found(query, [], str(error)))
            return
        picked = [
            PickedContact(r.id, " · ".join(
                p for p in (r.display_name, r.company if r.company != r.name else "", r.city) if p))
            for r in rows
        ]
        self.post_message(self.Found(query, picked))

    def on_contact_picker_found(self, message: ContactPicker.Found) -> None:
        if message.query != self.query_one("#picker-search", Input).value:
            return
        self.rows = message.rows
        results = self.query_one("#picker-results", OptionList)
        results.clear_options()
        results.add_options([Option(Text(row.label, no_wrap=True, overflow="ellipsis"), id=str(row.id)) for row in self.rows])
        status = message.error or ("no contact found" if not self.rows else
                                   "enter takes the first" if len(self.rows) < self.LIMIT
                                   else f"the first {self.LIMIT}; type more to narrow")
        self.query_one("#picker-status", Static).update(status)
