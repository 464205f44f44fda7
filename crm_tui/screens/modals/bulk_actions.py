"""The bulk-action menu of the contact list and the small dialogs its actions ask with.

`BulkMenu` lists the actions for the marked contacts (seed 002: group actions and contact
actions) and dismisses with the chosen action's key. The dialogs only ask: they dismiss with what
was chosen, and the contact list runs the action (`services.bulk`) in a worker with a progress
bar. Choices that come from the database (groups, users, teams, lost reasons) are loaded by each
dialog in a thread worker when it opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from crm_tui.screens.modals.dialog import Dialog
from crm_tui.widgets.format import plural

if TYPE_CHECKING:
    from crm_tui.workspace import Workspace

ACTIONS = (
    ("add_to_group", "Add to group…", "g"),
    ("new_group", "New group from the selection…", "n"),
    ("assign", "Assign to a user or team…", "a"),
    ("change_status", "Change status…", "s"),
    ("archive", "Archive", "r"),
    ("restore", "Restore (archived or closed)", "t"),
    ("delete", "Delete permanently…", "d"),
    ("export", "Export to a file…", "x"),
    ("mass_mail", "Mass e-mail…", "m"),
    ("bulk_edit", "Edit them in $EDITOR (a table)…", "e"),
)
"""(key, label, hot key) of every bulk action, in menu order."""
CHANGEABLE_STATUSES = ("prospect", "customer", "archived", "closed")


class BulkMenu(Dialog[str]):
    """Choose what to do with the marked contacts."""

    DEFAULT_CSS = """
    BulkMenu > #dialog {
        width: 52;
    }
    BulkMenu OptionList {
        height: auto;
        max-height: 14;
    }
    """

    def __init__(self, description: str, *, available: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.description = description
        self.available = available

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(f"Bulk action: {self.description}")
            options = []
            for key, label, hot in ACTIONS:
                if self.available is not None and key not in self.available:
                    continue
                text = Text.assemble((f"{hot} ", "bold"), label)
                options.append(Option(text, id=key))
            yield OptionList(*options, id="bulk-actions", compact=True)
            yield Static("enter or the letter chooses · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_key(self, event) -> None:
        for key, _label, hot in ACTIONS:
            if event.key == hot and (self.available is None or key in self.available):
                event.stop()
                self.dismiss(key)
                return

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


# -- choices loaded from the database ----------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    label: str
    value: str


class _ChoicesLoaded(Message, bubble=False):
    def __init__(self, choices: dict[str, list[Pick]]) -> None:
        super().__init__()
        self.choices = choices


class _ChoiceDialog(Dialog):
    """A dialog whose selects are filled from the database after it opens."""

    def __init__(self, workspace: Workspace, count: int) -> None:
        super().__init__()
        self.workspace = workspace
        self.count = count

    def on_mount(self) -> None:
        self.load_choices()

    def read_choices(self, session) -> dict[str, list[Pick]]:
        """{select id: choices} (runs in a worker thread)."""
        return {}

    @work(thread=True, exclusive=True, exit_on_error=False, name="load choices")
    def load_choices(self) -> None:
        self.post_message(_ChoicesLoaded(self.workspace.read(self.read_choices)))

    @on(_ChoicesLoaded)
    def _loaded(self, message: _ChoicesLoaded) -> None:
        self.apply_choices(message.choices)

    def apply_choices(self, choices: dict[str, list[Pick]]) -> None:
        """Fill the selects (the first choice chosen), then `choices_loaded`."""
        for name, picks in choices.items():
            select = self.query_one(f"#field-{name}", Select)
            select.set_options([(p.label, p.value) for p in picks] or [("(none)", "")])
            select.value = picks[0].value if picks else ""
        self.choices_loaded(choices)

    def choices_loaded(self, choices: dict[str, list[Pick]]) -> None:
        """Hook after the selects are filled."""

    def selected(self, name: str) -> str:
        value = self.query_one(f"#field-{name}", Select).value
        return value if isinstance(value, str) and value != LOADING else ""

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


LOADING = "\x00loading"
"""The value of a select whose choices are still being loaded (never a real value: replacing it
changes the value, so the select shows the new choice)."""


def _loading_select(name: str) -> Select:
    """A select whose choices are still being loaded (then replaced, the first one chosen)."""
    return Select([("loading…", LOADING)], value=LOADING, allow_blank=False, id=f"field-{name}",
                  compact=True)


def user_picks(session, *, everybody: bool = True, teams: bool = True) -> list[Pick]:
    from crm_tui.services.catalog import list_users
    from crm_tui.services.users import list_teams

    picks = [Pick("everybody", "everybody")] if everybody else []
    picks += [Pick(f"{u.name or u.login} ({u.login})", u.login) for u in list_users(session) if u.active]
    if teams:
        picks += [Pick(f"team {t.name}", f"team:{t.name}") for t in list_teams(session)]
    return picks


class GroupPicker(_ChoiceDialog):
    """Which static group to add the marked contacts to (dismisses with its name)."""

    BINDINGS = [Binding("ctrl+s", "save", "Add", id="group_picker.add")]

    def __init__(self, workspace: Workspace, count: int, preferred: str | None = None) -> None:
        super().__init__(workspace, count)
        self.preferred = preferred

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(f"Add {plural(self.count, 'contact')} to a group")
            yield from self.field("group", "Group", _loading_select("group"))
            yield Static("only static groups take members; a dynamic one is a saved filter",
                         classes="hint")
            yield from self.buttons(("save", "Add", "primary"), ("cancel", "Cancel", "default"))

    def read_choices(self, session) -> dict[str, list[Pick]]:
        from crm_tui.services.groups import list_groups

        groups = [g for g in list_groups(session, self.workspace.actor) if g.kind == "static"]
        return {"group": [Pick(f"{g.name} ({g.members or 0})", g.name) for g in groups]}

    def choices_loaded(self, choices: dict[str, list[Pick]]) -> None:
        select = self.query_one("#field-group", Select)
        if not choices["group"]:
            self.show_error("group", "there is no static group yet: make one with 'New group'")
        elif self.preferred in {p.value for p in choices["group"]}:
            select.value = self.preferred
        select.focus()

    def action_save(self) -> None:
        name = self.selected("group")
        if not name:
            self.show_error("group", "choose a group")
            return
        self.dismiss(name)


@dataclass(frozen=True)
class NewGroup:
    name: str
    number: str
    assigned_to: str


class NewGroupDialog(_ChoiceDialog):
    """Name, number and assignee of a new group (static from a selection, or dynamic from a
    filter when `query` is given). Names and numbers already taken are refused here."""

    BINDINGS = [Binding("ctrl+s", "save", "Create", id="new_group.create")]

    def __init__(self, workspace: Workspace, count: int, *, query: str | None = None) -> None:
        super().__init__(workspace, count)
        self.query_text = query
        self._names: set[str] = set()
        self._numbers: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            if self.query_text is None:
                yield self.heading(f"New group of {plural(self.count, 'contact')}")
            else:
                yield self.heading("Save the filter as a dynamic group")
                yield Static(f"filter: {self.query_text}", classes="hint", markup=False)
            yield from self.field("name", "Name", self.input("name"))
            yield from self.field("number", "Number", self.input("number", placeholder="optional"))
            yield from self.field("assigned_to", "Assigned to",
                                  _loading_select("assigned_to"))
            yield from self.buttons(("save", "Create", "primary"), ("cancel", "Cancel", "default"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#field-name", Input).focus()

    def read_choices(self, session) -> dict[str, list[Pick]]:
        from crm_tui.services.groups import list_groups

        groups = list_groups(session, self.workspace.actor)
        self._names = {g.name.lower() for g in groups}
        self._numbers = {g.number for g in groups if g.number}
        picks = user_picks(session, everybody=False, teams=False)
        me = self.workspace.actor.login
        picks.sort(key=lambda p: p.value != me)
        return {"assigned_to": [Pick("nobody", ""), *picks]}

    def action_save(self) -> None:
        self.clear_errors()
        name = self.value_of("name")
        number = self.value_of("number")
        if not name:
            self.show_error("name", "a group needs a name")
        elif name.lower() in self._names:
            self.show_error("name", f"a group {name!r} exists already")
        elif number and number in self._numbers:
            self.show_error("number", f"{number!r} is the number of another group")
        else:
            self.dismiss(NewGroup(name, number, self.selected("assigned_to")))


class AssignDialog(_ChoiceDialog):
    """Assign to everybody, a user or a team (dismisses with `login`, `team:NAME` or
    `everybody`)."""

    BINDINGS = [Binding("ctrl+s", "save", "Assign", id="assign.save")]

    def __init__(self, workspace: Workspace, count: int, *, current: str | None = None) -> None:
        super().__init__(workspace, count)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(f"Assign {plural(self.count, 'contact')}")
            yield from self.field("assigned_to", "Assign to",
                                  _loading_select("assigned_to"))
            yield Static("the assignee sees the activities and gets the reminders", classes="hint")
            yield from self.buttons(("save", "Assign", "primary"), ("cancel", "Cancel", "default"))

    def read_choices(self, session) -> dict[str, list[Pick]]:
        return {"assigned_to": user_picks(session)}

    def choices_loaded(self, choices: dict[str, list[Pick]]) -> None:
        select = self.query_one("#field-assigned_to", Select)
        if self.current and self.current in {p.value for p in choices["assigned_to"]}:
            select.value = self.current
        select.focus()

    def action_save(self) -> None:
        value = self.selected("assigned_to")
        if not value:
            self.show_error("assigned_to", "choose who")
            return
        self.dismiss(value)


@dataclass(frozen=True)
class StatusChange:
    status: str
    reason: str = ""
    note: str = ""
    transfer_notes: bool = False


class StatusDialog(_ChoiceDialog):
    """The status to move the marked contacts to, by the lifecycle's steps (inbox contacts are
    reviewed, prospects converted; closing needs a lost reason and a note)."""

    BINDINGS = [Binding("ctrl+s", "save", "Change", id="status.save")]

    DEFAULT_CSS = """
    StatusDialog .closing, StatusDialog .converting {
        display: none;
    }
    StatusDialog.-closing .closing, StatusDialog.-converting .converting {
        display: block;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(f"Change the status of {plural(self.count, 'contact')}")
            yield from self.field("status", "New status",
                                  Select([(s, s) for s in CHANGEABLE_STATUSES], value="customer",
                                         allow_blank=False, id="field-status", compact=True))
            yield from self.field("reason", "Lost reason",
                                  Select([], id="field-reason", compact=True, prompt="choose a reason"),
                                  classes="closing")
            yield from self.field("note", "Note", self.input("note", placeholder="why the service ended"),
                                  classes="closing")
            yield Checkbox("Transfer the prospects' notes into the customers' history",
                           id="field-transfer_notes", classes="converting", compact=True)
            yield Static("inbox contacts are reviewed, prospects converted; archived and closed "
                         "ones must be restored first", classes="hint")
            yield from self.buttons(("save", "Change", "primary"), ("cancel", "Cancel", "default"))

    def on_mount(self) -> None:
        super().on_mount()
        self._show_parts("customer")
        self.query_one("#field-status", Select).focus()

    def read_choices(self, session) -> dict[str, list[Pick]]:
        from crm_tui.services.lifecycle import list_lost_reasons

        return {"reason": [Pick(r.name, r.name) for r in list_lost_reasons(session)]}

    def apply_choices(self, choices: dict[str, list[Pick]]) -> None:
        # the reason stays blank: a person must choose one
        select = self.query_one("#field-reason", Select)
        select.set_options([(p.label, p.value) for p in choices["reason"]])

    @on(Select.Changed, "#field-status")
    def _status_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._show_parts(event.value)

    def _show_parts(self, status: str) -> None:
        self.set_class(status == "closed", "-closing")
        self.set_class(status == "customer", "-converting")

    def action_save(self) -> None:
        self.clear_errors()
        status = self.selected("status")
        if status == "closed":
            reason, note = self.selected("reason"), self.value_of("note")
            if not reason:
                self.show_error("reason", "a lost reason is required")
                return
            if not note:
                self.show_error("note", "say in a few words why the service ended")
                return
            self.dismiss(StatusChange(status, reason, note))
            return
        transfer = status == "customer" and self.query_one("#field-transfer_notes", Checkbox).value
        self.dismiss(StatusChange(status, transfer_notes=transfer))


class BulkEditPreview(Dialog[str]):
    """What a bulk edit would save (every changed field, old -> new) or why it cannot be saved.
    Dismisses with "save", "edit" (back to the editor, the edits kept) or None."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save all", id="bulk_edit.save"),
        Binding("ctrl+o", "edit", "Edit again", id="bulk_edit.edit"),
    ]

    DEFAULT_CSS = """
    BulkEditPreview > #dialog {
        width: 78;
    }
    BulkEditPreview VerticalScroll {
        height: auto;
        max-height: 14;
    }
    """

    def __init__(self, plan) -> None:
        super().__init__(classes="" if plan.ok else "-danger")
        self.plan = plan

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll

        plan = self.plan
        with Vertical(id="dialog"):
            if plan.ok:
                yield self.heading(f"Save {plural(plan.field_count, 'change')} to "
                                   f"{plural(len(plan.changes), 'contact')}?")
            else:
                yield self.heading(f"Not saved: {plural(len(plan.problems), 'problem')}")
            with VerticalScroll():
                lines = Text()
                for problem in plan.problems:
                    lines.append(problem.text() + "\n", style="red")
                for change in plan.changes:
                    lines.append(f"#{change.contact_id} {change.name}", style="bold")
                    for name, (old, new) in change.fields.items():
                        lines.append(f"\n  {name}: {old or '—'} → {new or '—'}")
                    lines.append("\n")
                yield Static(lines, id="bulk-edit-preview")
            extra = []
            if plan.unchanged:
                extra.append(f"{plan.unchanged:,} unchanged")
            if plan.left_out:
                extra.append(f"{plan.left_out:,} left out (line deleted)")
            hint = "ctrl+s saves all or nothing · ctrl+o edits again" if plan.ok else \
                "ctrl+o edits again (your edits are kept) · escape gives up"
            yield Static(" · ".join([*extra, hint]), classes="hint")
            buttons = [("save", "Save all", "primary")] if plan.ok else []
            yield from self.buttons(*buttons, ("edit", "Edit again", "default"),
                                    ("cancel", "Cancel", "default"))

    def action_save(self) -> None:
        if self.plan.ok:
            self.dismiss("save")

    def action_edit(self) -> None:
        self.dismiss("edit")
