""""My activities": the open activities of the acting user (their teams', or anyone's for a
manager), most urgent first, coloured by state, with the expected revenue total, and triage
from the keyboard.

The list is virtual (`services.agenda.my_activities` windows). Every triage key acts on the
selected rows if any (space selects) or on the row under the cursor; the change runs in a
worker, then the list is fetched again in place (the cached windows dropped, the cursor kept),
so the row that moved, closed or changed shows where it now belongs. A count prefix (`3r`) is a
number of days; `.` repeats the last action on the next row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from crm_tui.screens.base import MainScreen
from crm_tui.widgets.format import money, plural, state_colour
from crm_tui.widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from crm_tui.services.activity_types import ActivityTypeRow
    from crm_tui.services.agenda import AgendaRow
    from crm_tui.services.chaining import ActivityDraft, DoneResult
    from crm_tui.workspace import Workspace

SCOPES = ("mine", "team", "all")
SCOPE_LABELS = {"mine": "My activities", "team": "My teams' activities", "all": "Anyone's activities"}
STATE_FILTERS = (None, "overdue", "today", "planned")
PAUSED_STYLE = "grey50"
PRIORITY_MARKS = {0: "", 1: "!", 2: "!!", 3: "!!!"}
MAX_COUNT = 999


def _mark(row: AgendaRow, selected: bool) -> Text:
    """Two cells: ✓ when selected, then ● in the state's colour (⏸ when paused)."""
    text = Text("✓" if selected else " ", style="bold")
    if row.paused:
        text.append("⏸", style=PAUSED_STYLE)
    else:
        text.append("●", style=state_colour(row.state))
    return text


def seed_columns(is_selected) -> list[Column]:
    """The columns of seed 000 (opportunity, contact, e-mail, phone, next activity, deadline,
    expected revenue, stage), in its order; the narrow terminal keeps the most useful."""
    return [
        Column("mark", "", 2, lambda r: _mark(r, is_selected(r)), priority=0),
        Column("opportunity", "Opportunity", 14, lambda r: r.opportunity or "", priority=3, grow=2),
        Column("contact", "Contact", 15, lambda r: r.contact, priority=0, grow=2),
        Column("email", "E-mail", 18, lambda r: r.email, priority=6, grow=1),
        Column("phone", "Phone", 14, lambda r: r.phone, priority=5),
        Column("activity", "Next activity", 18, lambda r: r.next_activity, priority=1, grow=3),
        Column("deadline", "Deadline", 11, lambda r: r.deadline, priority=0),
        Column("revenue", "Revenue", 12, lambda r: money(r.expected_revenue), priority=2,
               justify="right"),
        Column("stage", "Stage", 12, lambda r: r.stage or "", priority=4, grow=1),
    ]


def detail_columns(is_selected) -> list[Column]:
    """More columns ("v"): the activity itself, its date and time, who has it."""
    return [
        Column("mark", "", 2, lambda r: _mark(r, is_selected(r)), priority=0),
        Column("deadline", "Deadline", 11, lambda r: r.deadline, priority=0),
        Column("due", "Due", 10, lambda r: r.due.isoformat(), priority=1),
        Column("time", "Time", 5, lambda r: r.time.strftime("%H:%M") if r.time else "", priority=1),
        Column("type", "Type", 10, lambda r: r.type, priority=2),
        Column("summary", "Summary", 14, lambda r: r.summary, priority=1, grow=2),
        Column("contact", "Contact", 14, lambda r: r.contact, priority=2, grow=1),
        Column("assignee", "Assignee", 12, lambda r: r.assigned_to or "everybody", priority=3),
        Column("priority", "Prio", 4, lambda r: PRIORITY_MARKS.get(r.priority, ""), priority=4),
        Column("place", "Place", 12, lambda r: r.place, priority=5, grow=1),
        Column("phone", "Phone", 14, lambda r: r.phone, priority=6),
        Column("email", "E-mail", 18, lambda r: r.email, priority=7, grow=1),
    ]


def agenda_columns() -> list[Column]:
    """The default columns (nothing selected)."""
    return seed_columns(lambda _row: False)


@dataclass(frozen=True)
class AgendaSource:
    workspace: Workspace
    scope: str = "mine"
    state: str | None = None
    type_id: int | None = None

    def count(self) -> int:
        from crm_tui.services.agenda import my_activities_total

        return self.workspace.read(lambda s: my_activities_total(
            s, self.workspace.actor, self.scope, self.state, self.type_id)[0])

    def fetch(self, offset: int, limit: int) -> Sequence[AgendaRow]:
        from crm_tui.services.agenda import my_activities

        return self.workspace.read(lambda s: my_activities(
            s, self.workspace.actor, offset, limit, self.scope, self.state, self.type_id))


@dataclass(frozen=True)
class LastAction:
    """What `.` repeats: an action name and its argument (a shift, a date, an assignee)."""

    name: str
    argument: str | None = None

    def describe(self) -> str:
        words = {
            "reschedule_by": f"reschedule {self.argument}", "reschedule_to": f"move to {self.argument}",
            "pause": "pause", "resume": "resume", "reassign": f"assign to {self.argument}",
            "done": "done", "done_next": "done & plan next", "cancel": "cancel",
        }
        return words.get(self.name, self.name)


def _label(row: AgendaRow) -> str:
    return f"{row.next_activity} · {row.contact}"


def _count_binding(digit: int) -> Binding:
    # One binding per digit (each can be remapped); only "1" is listed in the help and palette.
    return Binding(str(digit), f"count({digit})", "Count prefix: digits, then r (3r: +3 days)",
                   show=False, system=digit != 1, id=f"activities.count_{digit}")


class ActivitiesScreen(MainScreen):
    """The acting user's open activities, with triage keys."""

    MODE = "activities"
    TITLE = "My activities"

    BINDINGS = [
        Binding("d", "done", "Done", id="activities.done"),
        Binding("D,n", "done_next", "Done+next", id="activities.done_next"),
        Binding("r", "reschedule_by", "+1d", id="activities.reschedule"),
        Binding("R", "reschedule_to", "Move…", id="activities.reschedule_to"),
        Binding("p", "pause", "Pause", id="activities.pause"),
        Binding("x", "cancel_activity", "Cancel", id="activities.cancel"),
        Binding("c", "open_contact", "Open contact", show=False, id="activities.contact"),
        Binding("space", "toggle_select", "Select", show=False, id="activities.select"),
        Binding("ctrl+a", "select_all", "Select all", show=False, id="activities.select_all"),
        Binding("escape", "clear_selection", "Clear selection", show=False,
                id="activities.clear_selection"),
        Binding("A", "reassign", "Assign to…", show=False, id="activities.reassign"),
        Binding("O", "overdue_to_today", "Move all my overdue to today", show=False,
                id="activities.overdue_to_today"),
        Binding("full_stop", "repeat", "Repeat last action on the next row", show=False,
                key_display=".", id="activities.repeat"),
        Binding("a", "plan", "Plan activity for this contact", show=False, id="activities.plan"),
        Binding("L", "log", "Log activity for this contact", show=False, id="activities.log"),
        Binding("m", "scope", "Mine/team/anyone", show=False, id="activities.scope"),
        Binding("s", "state", "State filter", show=False, id="activities.state"),
        Binding("y", "type_filter", "Type filter", show=False, id="activities.type"),
        Binding("v", "columns", "More columns", show=False, id="activities.columns"),
        *(_count_binding(digit) for digit in range(10)),
    ]

    DEFAULT_CSS = """
    ActivitiesScreen #activities-status {
        height: 1;
    }
    """

    class Totals(Message):
        def __init__(self, count: int, revenue: Decimal, currency: str) -> None:
            super().__init__()
            self.count = count
            self.revenue = revenue
            self.currency = currency

    class TypesLoaded(Message):
        def __init__(self, types: list[ActivityTypeRow]) -> None:
            super().__init__()
            self.types = types

    class Acted(Message):
        """A triage action is done: tell the rep, refresh the list in place."""

        def __init__(self, text: str, action: LastAction | None, row_id: int | None,
                     severity: str = "information") -> None:
            super().__init__()
            self.text = text
            self.action = action
            self.row_id = row_id
            self.severity = severity

    class Selected(Message):
        def __init__(self, ids: list[int]) -> None:
            super().__init__()
            self.ids = ids

    class NextPrepared(Message):
        def __init__(self, row: AgendaRow, chaining: str, draft: ActivityDraft | None) -> None:
            super().__init__()
            self.row = row
            self.chaining = chaining
            self.draft = draft

    def __init__(self) -> None:
        super().__init__()
        self.scope = "mine"
        self.state: str | None = None
        self.type_filter: ActivityTypeRow | None = None
        self.types: list[ActivityTypeRow] = []
        self.totals: tuple[int, Decimal, str] | None = None
        self.selected: set[int] = set()
        self.count_prefix = ""
        self.more_columns = False
        self.last_action: LastAction | None = None
        self._last_row_id: int | None = None
        """The row the last action was on: `.` goes to the row after it."""

    # -- layout and loading ------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static(id="activities-status", classes="status-line")
        yield VirtualTable(
            self._columns(), id="activities-table", row_style=self._row_style,
            empty_text="No open activities.", loading_text="loading activities…",
        )
        yield Static(id="activities-total", classes="total-line")

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#activities-table", VirtualTable)

    def _columns(self) -> list[Column]:
        is_selected = lambda row: row.id in self.selected  # noqa: E731
        return detail_columns(is_selected) if self.more_columns else seed_columns(is_selected)

    def _row_style(self, row: AgendaRow) -> str:
        style = PAUSED_STYLE if row.paused else state_colour(row.state)
        return f"{style} bold" if row.id in self.selected else style

    def on_mount(self) -> None:
        super().on_mount()
        self.table.focus()
        self._show_status()

    def workspace_ready(self, workspace: Workspace) -> None:
        self._load(keep_cursor=False)
        self.load_types(workspace)

    def reload(self) -> None:
        self._load(keep_cursor=True)

    def _load(self, keep_cursor: bool) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        type_id = self.type_filter.id if self.type_filter else None
        self.totals = None
        self.table.set_source(
            AgendaSource(workspace, self.scope, self.state, type_id), keep_cursor=keep_cursor
        )
        self.load_totals(workspace, self.scope, self.state, type_id)
        self._show_status()

    def refresh_in_place(self) -> None:
        """After a change: the same filters, the cached windows dropped, the cursor kept."""
        self._load(keep_cursor=True)
        poll = getattr(self.app, "poll_reminders", None)
        if poll is not None:  # the counts in the navigation bar
            poll()

    @work(thread=True, exclusive=True, exit_on_error=False, group="totals", name="activity totals")
    def load_totals(self, workspace: Workspace, scope: str, state: str | None,
                    type_id: int | None) -> None:
        from crm_tui.services.agenda import my_activities_total

        count, revenue = workspace.read(
            lambda s: my_activities_total(s, workspace.actor, scope, state, type_id)
        )
        self.post_message(self.Totals(count, revenue, workspace.settings.general.currency))

    @work(thread=True, exclusive=True, exit_on_error=False, group="types", name="activity types")
    def load_types(self, workspace: Workspace) -> None:
        from crm_tui.services.activity_types import list_types

        self.post_message(self.TypesLoaded(workspace.read(lambda s: list_types(s, include_inactive=False))))

    def on_activities_screen_types_loaded(self, message: ActivitiesScreen.TypesLoaded) -> None:
        self.types = message.types

    def on_activities_screen_totals(self, message: ActivitiesScreen.Totals) -> None:
        self.totals = (message.count, message.revenue, message.currency)
        self._show_status()

    def _show_status(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(SCOPE_LABELS[self.scope], style="bold")
        if self.state:
            line.append("  state: ")
            line.append(self.state, style=state_colour(self.state))
        if self.type_filter:
            line.append(f"  type: {self.type_filter.name}")
        if self.selected:
            line.append(f"  {len(self.selected):,} selected", style="bold reverse")
        if self.count_prefix:
            line.append(f"  {self.count_prefix}…", style="bold")
        self.query_one("#activities-status", Static).update(line)
        total = Text(no_wrap=True, overflow="ellipsis", justify="right")
        if self.totals is None:
            total.append("counting…", style="dim")
        else:
            count, revenue, currency = self.totals
            total.append(plural(count, "open activity", "open activities"))
            total.append(" · expected revenue ")
            total.append(money(revenue, currency), style="bold")
        self.query_one("#activities-total", Static).update(total)

    # -- filters and views -------------------------------------------------------------------

    def _scopes(self) -> tuple[str, ...]:
        workspace = self.workspace
        if workspace is not None and workspace.actor.is_manager:
            return SCOPES
        return SCOPES[:2]

    def action_scope(self) -> None:
        scopes = self._scopes()
        index = scopes.index(self.scope) if self.scope in scopes else -1
        self.scope = scopes[(index + 1) % len(scopes)]
        self.selected.clear()
        self._load(keep_cursor=False)

    def action_state(self) -> None:
        self.state = STATE_FILTERS[(STATE_FILTERS.index(self.state) + 1) % len(STATE_FILTERS)]
        self.selected.clear()
        self._load(keep_cursor=False)

    def action_type_filter(self) -> None:
        choices: list[ActivityTypeRow | None] = [None, *self.types]
        current = next((i for i, t in enumerate(choices) if t is not None and self.type_filter
                        and t.id == self.type_filter.id), 0)
        self.type_filter = choices[(current + 1) % len(choices)]
        self.selected.clear()
        self._load(keep_cursor=False)

    def action_columns(self) -> None:
        self.more_columns = not self.more_columns
        self.table.set_columns(self._columns())

    # -- count prefix, selection -------------------------------------------------------------

    def action_count(self, digit: int) -> None:
        if not self.count_prefix and digit == 0:
            return
        if int(self.count_prefix + str(digit)) <= MAX_COUNT:
            self.count_prefix += str(digit)
        self._show_status()

    def _take_count(self) -> int | None:
        count = int(self.count_prefix) if self.count_prefix else None
        if self.count_prefix:
            self.count_prefix = ""
            self._show_status()
        return count

    def action_toggle_select(self) -> None:
        self._take_count()
        row = self.table.current_row
        if row is None:
            return
        self.selected.symmetric_difference_update({row.id})
        self.table.move_cursor(self.table.cursor_row + 1)
        self.table.refresh()
        self._show_status()

    def action_select_all(self) -> None:
        self._take_count()
        workspace = self.workspace
        if workspace is not None:
            type_id = self.type_filter.id if self.type_filter else None
            self.select_all(workspace, self.scope, self.state, type_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="select", name="select all")
    def select_all(self, workspace: Workspace, scope: str, state: str | None,
                   type_id: int | None) -> None:
        from crm_tui.services.agenda import my_activity_ids

        ids = workspace.read(lambda s: my_activity_ids(s, workspace.actor, scope, state, type_id))
        self.post_message(self.Selected(ids))

    def on_activities_screen_selected(self, message: ActivitiesScreen.Selected) -> None:
        self.selected = set(message.ids)
        self.table.refresh()
        self._show_status()

    def action_clear_selection(self) -> None:
        self._take_count()
        self.selected.clear()
        self.table.refresh()
        self._show_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_selection":
            return bool(self.selected) or bool(self.count_prefix)
        return True

    def _targets(self) -> tuple[list[int], str, AgendaRow | None]:
        """(ids, label, the row) the next action applies to: the selection, else the cursor row."""
        row = self.table.current_row
        if self.selected:
            ids = sorted(self.selected)
            if len(ids) == 1 and row is not None and row.id == ids[0]:
                return ids, _label(row), row
            return ids, plural(len(ids), "activity", "activities"), None
        if row is None:
            return [], "", None
        return [row.id], _label(row), row

    # -- triage ------------------------------------------------------------------------------

    def action_reschedule_by(self) -> None:
        days = self._take_count() or 1
        ids, _label_text, row = self._targets()
        if ids:
            self._triage(LastAction("reschedule_by", f"+{days}d"), ids, row)

    def action_reschedule_to(self) -> None:
        from crm_tui.screens.modals.reschedule import Rescheduled, RescheduleForm

        count = self._take_count()
        workspace = self.workspace
        ids, label, row = self._targets()
        if workspace is None or not ids:
            return

        def done(outcome: Rescheduled | None) -> None:
            if outcome is None:
                return
            action = (LastAction("reschedule_by", outcome.by) if outcome.by
                      else LastAction("reschedule_to", outcome.due))
            self._acted(self._triage_text(outcome.result, action), action, row)

        initial = f"+{count}d" if count else "+1w"
        self.app.push_screen(
            RescheduleForm(workspace, ids, label, current_due=row.due if row else None,
                           initial=initial),
            done,
        )

    def action_pause(self) -> None:
        self._take_count()
        ids, _label_text, row = self._targets()
        if not ids:
            return
        if row is not None:
            self._triage(LastAction("resume" if row.paused else "pause"), ids, row)
        else:
            self._triage(LastAction("toggle_pause"), ids, None)

    def action_reassign(self) -> None:
        from crm_tui.screens.modals.reschedule import Reassigned, ReassignForm

        self._take_count()
        workspace = self.workspace
        ids, label, row = self._targets()
        if workspace is None or not ids:
            return

        def done(outcome: Reassigned | None) -> None:
            if outcome is not None:
                action = LastAction("reassign", outcome.assigned_to)
                self._acted(self._triage_text(outcome.result, action), action, row)

        self.app.push_screen(ReassignForm(workspace, ids, label), done)

    def action_cancel_activity(self) -> None:
        from crm_tui.screens.modals.done_form import CancelForm

        self._take_count()
        workspace = self.workspace
        ids, label, row = self._targets()
        if workspace is None or not ids:
            return

        def done(result) -> None:
            if result is not None:
                action = LastAction("cancel")
                self._acted(self._triage_text(result, action), action, row)

        self.app.push_screen(CancelForm(workspace, ids, label), done)

    def action_overdue_to_today(self) -> None:
        self._take_count()
        workspace = self.workspace
        if workspace is not None:
            self.run_triage(workspace, LastAction("overdue_to_today"), [])

    def _triage(self, action: LastAction, ids: list[int], row: AgendaRow | None) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        self.run_triage(workspace, action, ids, row.id if row else None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="triage", name="triage")
    def run_triage(self, workspace: Workspace, action: LastAction, ids: list[int],
                   row_id: int | None = None) -> None:
        from crm_tui.services import activities
        from crm_tui.services.errors import ServiceError

        actor, settings = workspace.actor, workspace.settings

        def write(session):
            name = action.name
            if name == "toggle_pause":
                rows = activities.rows_by_ids(session, actor, ids)
                name = "resume" if rows and all(r.paused for r in rows) else "pause"
            if name == "reschedule_by":
                return activities.reschedule(session, actor, ids, by=action.argument, settings=settings)
            if name == "reschedule_to":
                return activities.reschedule(session, actor, ids, due=action.argument, settings=settings)
            if name == "pause":
                return activities.pause(session, actor, ids)
            if name == "resume":
                return activities.resume(session, actor, ids)
            if name == "reassign":
                return activities.reassign(session, actor, ids, action.argument or "", settings=settings)
            if name == "overdue_to_today":
                return activities.move_overdue_to_today(session, actor, settings=settings)
            raise ValueError(f"unknown triage action {name!r}")

        try:
            result = workspace.write(write)
        except ServiceError as error:
            self.post_message(self.Acted(str(error), None, None, "error"))
            return
        done = LastAction(result.action if action.name == "toggle_pause" else action.name,
                          action.argument)
        repeatable = None if action.name == "overdue_to_today" else done
        self.post_message(self.Acted(self._triage_text(result, done), repeatable, row_id))

    @staticmethod
    def _triage_text(result, action: LastAction) -> str:
        if action.name == "overdue_to_today":
            if not result.count:
                return "No overdue activities."
            return f"{plural(result.count, 'overdue activity', 'overdue activities')} moved to today"
        verb = {
            "reschedule_by": f"rescheduled {action.argument}",
            "reschedule_to": f"moved to {action.argument}",
            "pause": "paused", "resume": "resumed", "reassign": f"assigned to {action.argument}",
            "cancel": "cancelled",
        }.get(action.name, action.name)
        text = f"{plural(result.count, 'activity', 'activities')} {verb}"
        if result.unchanged:
            text += f" ({len(result.unchanged):,} already so)"
        return text

    def on_activities_screen_acted(self, message: ActivitiesScreen.Acted) -> None:
        if message.severity == "error":
            self.notify(message.text, severity="error")
            return
        self.notify(message.text, timeout=4)
        self._remember(message.action, message.row_id)

    def _acted(self, text: str, action: LastAction | None, row: AgendaRow | None) -> None:
        self.notify(text, timeout=4)
        self._remember(action, row.id if row else None)

    def _remember(self, action: LastAction | None, row_id: int | None) -> None:
        if action is not None:
            self.last_action = action
            self._last_row_id = row_id
        if self.selected:
            self.selected.clear()
        self.refresh_in_place()

    # -- done, done & plan next --------------------------------------------------------------

    def action_done(self) -> None:
        from crm_tui.screens.modals.done_form import DoneForm

        self._take_count()
        workspace = self.workspace
        row = self.table.current_row
        if workspace is None or row is None:
            return

        def done(result: DoneResult | None) -> None:
            if result is None:
                return
            self._acted(result.message, LastAction("done"), row)
            if result.draft is not None:
                self._propose(workspace, result.draft)

        self.app.push_screen(
            DoneForm(workspace, row.id, f"{row.type}: {row.summary}", row.category), done
        )

    def _propose(self, workspace: Workspace, draft: ActivityDraft) -> None:
        """A `suggest` type proposes its next activity once done: the pre-filled form, which the
        rep confirms (enter) or skips (escape)."""
        from crm_tui.screens.modals.activity_form import ActivityForm

        def planned(activity_id: int | None) -> None:
            if activity_id is not None:
                self.notify(f"planned next: {draft.type} (#{activity_id})", timeout=4)
                self.refresh_in_place()

        self.app.push_screen(ActivityForm(workspace, contact_id=draft.contact_id, draft=draft),
                             planned)

    def action_done_next(self) -> None:
        self._take_count()
        workspace = self.workspace
        row = self.table.current_row
        if workspace is not None and row is not None:
            self.prepare_next(workspace, row)

    @work(thread=True, exclusive=True, exit_on_error=False, group="triage", name="prepare next")
    def prepare_next(self, workspace: Workspace, row: AgendaRow) -> None:
        from crm_tui.services.activity_types import get_type
        from crm_tui.services.chaining import preview_next
        from crm_tui.services.errors import ServiceError

        def read(session):
            return get_type(session, row.type).chaining, preview_next(session, workspace.actor, row.id)

        try:
            chaining, draft = workspace.read(read)
        except ServiceError as error:
            self.post_message(self.Acted(str(error), None, None, "error"))
            return
        self.post_message(self.NextPrepared(row, chaining, draft))

    def on_activities_screen_next_prepared(self, message: ActivitiesScreen.NextPrepared) -> None:
        from crm_tui.screens.modals.activity_form import ActivityForm, CompleteRequest
        from crm_tui.screens.modals.done_form import DoneForm

        workspace = self.workspace
        row = message.row
        if workspace is None:
            return
        label = f"{row.type}: {row.summary}"
        if message.chaining == "trigger":
            def triggered(result: DoneResult | None) -> None:
                if result is not None:
                    self._acted(result.message, LastAction("done_next"), row)

            self.app.push_screen(
                DoneForm(workspace, row.id, label, row.category, plan_next=True, chaining="trigger"),
                triggered,
            )
            return

        def planned(activity_id: int | None) -> None:
            if activity_id is not None:
                self._acted(f"done: {label} · planned next #{activity_id}", LastAction("done_next"), row)

        self.app.push_screen(
            ActivityForm(
                workspace, contact_id=row.contact_id, opportunity_id=row.opportunity_id,
                draft=message.draft if message.chaining == "suggest" else None,
                complete=CompleteRequest(row.id, label, row.category),
            ),
            planned,
        )

    # -- repeat ------------------------------------------------------------------------------

    def action_repeat(self) -> None:
        self._take_count()
        action = self.last_action
        table = self.table
        row = table.current_row
        if action is None or row is None:
            self.app.bell()
            return
        if row.id == self._last_row_id:
            # the row stayed where it was (paused, or rescheduled within its place): go on
            table.move_cursor(table.cursor_row + 1)
            row = table.current_row
            if row is None or row.id == self._last_row_id:
                self.app.bell()
                return
        self.selected.clear()
        if action.name == "done":
            self.action_done()
        elif action.name == "done_next":
            self.action_done_next()
        elif action.name == "cancel":
            self.action_cancel_activity()
        else:
            self._triage(action, [row.id], row)

    # -- opening and planning ----------------------------------------------------------------

    def action_open_contact(self) -> None:
        self._take_count()
        row = self.table.current_row
        if row is not None:
            self._open_contact(row.contact_id)

    def _open_contact(self, contact_id: int) -> None:
        from crm_tui.screens.contact_card import ContactCardScreen

        self.app.push_screen(ContactCardScreen(contact_id))

    @on(VirtualTable.RowSelected, "#activities-table")
    def _row_selected(self, message: VirtualTable.RowSelected) -> None:
        self._open_contact(message.row.contact_id)

    @on(VirtualTable.Failed, "#activities-table")
    def _failed(self, message: VirtualTable.Failed) -> None:
        self.notify(str(message.error), severity="error")

    def _form(self, log: bool) -> None:
        from crm_tui.screens.modals.activity_form import ActivityForm

        self._take_count()
        workspace = self.workspace
        row = self.table.current_row
        if workspace is None or row is None:
            return

        def saved(activity_id: int | None) -> None:
            if activity_id is not None:
                self.notify(f"{'logged' if log else 'planned'} activity #{activity_id}", timeout=4)
                self.refresh_in_place()

        self.app.push_screen(
            ActivityForm(workspace, contact_id=row.contact_id, opportunity_id=row.opportunity_id,
                         log=log),
            saved,
        )

    def action_plan(self) -> None:
        self._form(log=False)

    def action_log(self) -> None:
        self._form(log=True)
