"""The calendar: month, week, day and list views of activities (mine, my teams', anyone's, or
one user's or team's), all around one selected day.

- month: a `MonthGrid` of counts per day (`services.agenda.day_counts`) and the selected day's
  list under it;
- week: a `WeekGrid` of the week's activities and the selected day's list;
- day: the selected day's activities, full height;
- list: every activity of the selected day's month, a virtual table paged from the database.

Arrows move the day (in the grids; left/right in the day view), PageUp/PageDown go a period
back or forth (a month, a week, a day, a month), `t` comes back to today, `v` cycles the views
(`M` `W` `D` `L` choose one), enter on an activity opens its contact, `a` plans an activity on
the selected day (the form asks for the contact first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

from crm_tui import clock
from crm_tui.screens.base import MainScreen
from crm_tui.widgets.format import plural, state_colour
from crm_tui.widgets.month_grid import MonthGrid, grid_days, shift_month
from crm_tui.widgets.virtual_table import Column, ListSource, VirtualTable
from crm_tui.widgets.week_grid import WeekGrid, week_days

if TYPE_CHECKING:
    from crm_tui.services.agenda import CalendarItem
    from crm_tui.workspace import Workspace

VIEWS = ("month", "week", "day", "list")
SCOPES = ("mine", "team", "all")
SCOPE_LABELS = {"mine": "my activities", "team": "my teams' activities", "all": "anyone's"}
LIST_LIMIT = 500


def period(view: str, day: date) -> tuple[date, date]:
    """The dates a view shows around `day` (first and last, both included)."""
    if view == "month":
        return grid_days(day)
    if view == "week":
        return week_days(day)
    if view == "day":
        return day, day
    if view == "list":
        first = day.replace(day=1)
        return first, shift_month(first, 1) - timedelta(days=1)
    raise ValueError(f"unknown calendar view {view!r}")


def step(view: str, day: date, count: int) -> date:
    """`day` moved `count` periods of `view` (PageUp/PageDown)."""
    if view in ("month", "list"):
        return shift_month(day, count)
    if view == "week":
        return day + timedelta(weeks=count)
    return day + timedelta(days=count)


def scope_label(scope: str) -> str:
    if scope.startswith("user:"):
        return f"{scope[5:]}'s activities"
    if scope.startswith("team:"):
        return f"team {scope[5:]}"
    return SCOPE_LABELS.get(scope, scope)


def _style(item: CalendarItem) -> str:
    return "dim" if item.status == "done" else state_colour(item.state)


def day_columns() -> list[Column]:
    return [
        Column("time", "Time", 5, lambda i: i.time.strftime("%H:%M") if i.time else "", priority=0),
        Column("type", "Type", 12, lambda i: i.type, priority=1),
        Column("summary", "Summary", 16, lambda i: ("✓ " if i.status == "done" else "") + i.summary,
               priority=0, grow=2),
        Column("contact", "Contact", 16, lambda i: i.contact, priority=0, grow=2),
        Column("opportunity", "Opportunity", 14, lambda i: i.opportunity or "", priority=2, grow=1),
    ]


def list_columns() -> list[Column]:
    return [
        Column("date", "Date", 10, lambda i: f"{i.due:%a %d %b}", priority=0),
        *day_columns(),
    ]


@dataclass(frozen=True)
class RangeSource:
    """Every activity of a period, windowed (the list view)."""

    workspace: Workspace
    start: date
    end: date
    scope: str

    def count(self) -> int:
        from crm_tui.services.agenda import count_between

        return self.workspace.read(lambda s: count_between(
            s, self.workspace.actor, self.start, self.end, self.scope))

    def fetch(self, offset: int, limit: int) -> Sequence[CalendarItem]:
        from crm_tui.services.agenda import activities_between

        return self.workspace.read(lambda s: activities_between(
            s, self.workspace.actor, self.start, self.end, self.scope, limit=limit, offset=offset))


@dataclass(frozen=True)
class PeriodData:
    view: str
    start: date
    end: date
    scope: str
    counts: dict[date, tuple[int, int]]
    items: list[CalendarItem]
    """The week's items (week view) or the selected day's (month and day views)."""


class CalendarScreen(MainScreen):
    """Month, week, day and list views of activities."""

    MODE = "calendar"
    TITLE = "Calendar"

    BINDINGS = [
        Binding("pageup", "period(-1)", "Previous", id="calendar.previous", priority=True,
                group=Binding.Group("Period")),
        Binding("pagedown", "period(1)", "Next", id="calendar.next", priority=True,
                group=Binding.Group("Period")),
        Binding("t", "today", "Today", id="calendar.today"),
        Binding("v", "cycle_view", "View", id="calendar.view"),
        Binding("M", "view('month')", "Month view", show=False, id="calendar.month_view"),
        Binding("W", "view('week')", "Week view", show=False, id="calendar.week_view"),
        Binding("D", "view('day')", "Day view", show=False, id="calendar.day_view"),
        Binding("L", "view('list')", "List view", show=False, id="calendar.list_view"),
        Binding("a", "plan", "Plan on this day", id="calendar.plan"),
        Binding("m", "scope", "Mine/team/anyone", show=False, id="calendar.scope"),
        Binding("u", "whose", "Whose calendar…", show=False, id="calendar.whose"),
        Binding("left", "day(-1)", "Previous day", show=False, id="calendar.previous_day"),
        Binding("right", "day(1)", "Next day", show=False, id="calendar.next_day"),
        Binding("enter", "day_list", "Day list", show=False, id="calendar.day_list"),
        Binding("escape", "back_to_grid", "Back to the grid", show=False, id="calendar.grid"),
    ]

    DEFAULT_CSS = """
    CalendarScreen #calendar-week {
        margin: 0 1;
    }
    CalendarScreen #calendar-grid, CalendarScreen #calendar-week, CalendarScreen #calendar-list {
        display: none;
    }
    CalendarScreen.-month #calendar-grid { display: block; }
    CalendarScreen.-week #calendar-week { display: block; }
    CalendarScreen.-list #calendar-list { display: block; }
    CalendarScreen.-list #calendar-day { display: none; }
    CalendarScreen #calendar-list { height: 1fr; }
    """

    class PeriodLoaded(Message):
        def __init__(self, data: PeriodData) -> None:
            super().__init__()
            self.data = data

    class ScopeRefused(Message):
        def __init__(self, scope: str, text: str) -> None:
            super().__init__()
            self.scope = scope
            self.text = text

    def __init__(self) -> None:
        super().__init__()
        self.view = "month"
        self.scope = "mine"
        self.day = clock.today(None)
        self._day_count: int | None = None
        self._request: tuple[str, date, date, str, date] | None = None
        self._list_index: int | None = None
        """Where the list view's cursor goes once the list is counted."""

    def compose_body(self) -> ComposeResult:
        today = self.day
        yield Static(id="calendar-status", classes="status-line")
        yield MonthGrid(today, today, id="calendar-grid")
        yield WeekGrid(today, today, id="calendar-week")
        yield VirtualTable(day_columns(), id="calendar-day", empty_text="Nothing on this day.",
                           loading_text="…", row_style=_style)
        yield VirtualTable(list_columns(), id="calendar-list", empty_text="Nothing in this month.",
                           loading_text="loading…", row_style=_style)

    def on_mount(self) -> None:
        super().on_mount()
        self.set_class(True, "-month")
        self.grid.focus()
        self._show_status()

    @property
    def grid(self) -> MonthGrid:
        return self.query_one(MonthGrid)

    @property
    def week(self) -> WeekGrid:
        return self.query_one(WeekGrid)

    @property
    def day_table(self) -> VirtualTable:
        return self.query_one("#calendar-day", VirtualTable)

    @property
    def list_table(self) -> VirtualTable:
        return self.query_one("#calendar-list", VirtualTable)

    def workspace_ready(self, workspace: Workspace) -> None:
        today = workspace.actor.today()
        self.grid.today = today
        self.week.today = today
        self.go(today, force=True)

    def reload(self) -> None:
        self._load(force=True)

    # -- the selected day and the view -------------------------------------------------------

    def go(self, day: date, force: bool = False) -> None:
        """Select `day` (every view follows) and load what the view shows."""
        changed = day != self.day
        self.day = day
        if self.grid.selected != day:
            self.grid.selected = day
        if self.week.selected != day:
            self.week.selected = day
        if changed or force:
            self._load(force=force)
        self._show_status()

    @on(MonthGrid.DaySelected)
    @on(WeekGrid.DaySelected)
    def _day_selected(self, message: MonthGrid.DaySelected | WeekGrid.DaySelected) -> None:
        if message.day != self.day:
            self.go(message.day)

    def set_view(self, view: str) -> None:
        for name in VIEWS:
            self.set_class(name == view, f"-{name}")
        self.view = view
        focus = {"month": self.grid, "week": self.week, "day": self.day_table,
                 "list": self.list_table}[view]
        focus.focus()
        self._load(force=True)
        self._show_status()

    def action_view(self, view: str) -> None:
        if view in VIEWS:
            self.set_view(view)

    def action_cycle_view(self) -> None:
        self.set_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def action_period(self, count: int) -> None:
        self.go(step(self.view, self.day, count))

    def action_day(self, count: int) -> None:
        self.go(self.day + timedelta(days=count))

    def action_today(self) -> None:
        workspace = self.workspace
        self.go(workspace.actor.today() if workspace else clock.today(None))

    def action_day_list(self) -> None:
        self.day_table.focus()

    def action_back_to_grid(self) -> None:
        (self.grid if self.view == "month" else self.week).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "day":
            return self.view == "day" or (self.view in ("month", "week") and self.day_table.has_focus)
        if action == "back_to_grid":
            return self.view in ("month", "week") and self.day_table.has_focus
        if action == "day_list":
            return self.view in ("month", "week")
        return True

    # -- whose activities --------------------------------------------------------------------

    def _scopes(self) -> tuple[str, ...]:
        workspace = self.workspace
        return SCOPES if workspace is not None and workspace.actor.is_manager else SCOPES[:2]

    def action_scope(self) -> None:
        scopes = self._scopes()
        index = scopes.index(self.scope) if self.scope in scopes else -1
        self.scope = scopes[(index + 1) % len(scopes)]
        self._load(force=True)
        self._show_status()

    def action_whose(self) -> None:
        workspace = self.workspace
        if workspace is None:
            return

        def chosen(scope: str | None) -> None:
            if scope is not None:
                self.scope = scope
                self._load(force=True)
                self._show_status()

        self.app.push_screen(WhosePrompt(workspace, self.scope), chosen)

    def on_calendar_screen_scope_refused(self, message: CalendarScreen.ScopeRefused) -> None:
        if message.scope == self.scope:
            self.notify(message.text, severity="error")
            self.scope = "mine"
            self._load(force=True)
            self._show_status()

    # -- loading -----------------------------------------------------------------------------

    def _load(self, force: bool = False) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        start, end = period(self.view, self.day)
        if self.view == "list":
            key = ("list", start, end, self.scope, start)
            if force or key != self._request:
                self._request = key
                self._day_count = None
                self.list_table.set_source(RangeSource(workspace, start, end, self.scope))
            self.locate_day(workspace, start, self.day, self.scope)
            return
        key = (self.view, start, end, self.scope, self.day)
        if not force and key == self._request:
            return
        self._request = key
        self._day_count = None
        self.load_period(workspace, self.view, start, end, self.scope, self.day)

    @work(thread=True, exclusive=True, exit_on_error=False, group="period", name="calendar period")
    def load_period(self, workspace: Workspace, view: str, start: date, end: date, scope: str,
                    day: date) -> None:
        from crm_tui.services.agenda import activities_between, day_counts
        from crm_tui.services.errors import ValidationError

        actor = workspace.actor

        def read(session) -> PeriodData:
            counts: dict[date, tuple[int, int]] = {}
            if view == "month":
                counts = {d: (c.open, c.done) for d, c in day_counts(session, actor, start, end, scope).items()}
                items = activities_between(session, actor, day, day, scope, limit=LIST_LIMIT)
            else:
                items = activities_between(session, actor, start, end, scope, limit=LIST_LIMIT)
            return PeriodData(view, start, end, scope, counts, items)

        try:
            data = workspace.read(read)
        except ValidationError as error:
            self.post_message(self.ScopeRefused(scope, error.message))
            return
        self.post_message(self.PeriodLoaded(data))

    @work(thread=True, exclusive=True, exit_on_error=False, group="locate", name="calendar locate day")
    def locate_day(self, workspace: Workspace, start: date, day: date, scope: str) -> None:
        """The list view's row of the first activity on or after `day` (the cursor goes there)."""
        from crm_tui.services.agenda import count_between
        from crm_tui.services.errors import ValidationError

        try:
            index = 0 if day <= start else workspace.read(lambda s: count_between(
                s, workspace.actor, start, day - timedelta(days=1), scope))
        except ValidationError:
            return  # the period load says so
        self.post_message(self.DayLocated(day, index))

    class DayLocated(Message):
        def __init__(self, day: date, index: int) -> None:
            super().__init__()
            self.day = day
            self.index = index

    def on_calendar_screen_day_located(self, message: CalendarScreen.DayLocated) -> None:
        if self.view != "list" or message.day != self.day:
            return
        self._list_index = message.index
        self._place_list_cursor()

    def _place_list_cursor(self) -> None:
        table = self.list_table
        if self._list_index is not None and table.row_count:
            table.move_cursor(min(self._list_index, table.row_count - 1))
            self._list_index = None

    def on_calendar_screen_period_loaded(self, message: CalendarScreen.PeriodLoaded) -> None:
        data = message.data
        if self._request is None or self._request[:4] != (data.view, data.start, data.end, data.scope):
            return
        if data.view == "month":
            self.grid.set_counts(data.counts)
        if data.view == "week":
            self.week.set_items(data.items)
        day_items = [i for i in data.items if i.due == self.day]
        self.day_table.set_source(ListSource(day_items))
        self._day_count = len(day_items)
        self._show_status()

    @on(VirtualTable.Counted, "#calendar-list")
    def _list_counted(self, message: VirtualTable.Counted) -> None:
        self._day_count = message.count
        self._place_list_cursor()
        self._show_status()

    def _show_status(self) -> None:
        day = self.day
        line = Text(no_wrap=True, overflow="ellipsis")
        if self.view == "month":
            line.append(MonthGrid.month_title(day), style="bold")
        elif self.view == "week":
            start, end = week_days(day)
            line.append(f"Week {day.isocalendar().week}: {start:%d %b} – {end:%d %b %Y}", style="bold")
        elif self.view == "day":
            line.append(f"{day:%A %d %B %Y}", style="bold")
        else:
            line.append(f"{MonthGrid.month_title(day)} (list)", style="bold")
        line.append(f"  {scope_label(self.scope)}", style="dim")
        if self.view in ("month", "week"):
            line.append(f"  {day:%a %d %b}")
        if self._day_count is not None:
            line.append(f": {plural(self._day_count, 'activity', 'activities')}")
        line.append(f"  [{self.view}]", style="dim")
        self.query_one("#calendar-status", Static).update(line)

    # -- opening and planning ----------------------------------------------------------------

    @on(VirtualTable.RowSelected)
    def _open(self, message: VirtualTable.RowSelected) -> None:
        from crm_tui.screens.contact_card import ContactCardScreen

        self.app.push_screen(ContactCardScreen(message.row.contact_id))

    def action_plan(self) -> None:
        from crm_tui.screens.modals.activity_form import ActivityForm

        workspace = self.workspace
        if workspace is None:
            return
        day = self.day
        if self.view == "list" and self.list_table.current_row is not None:
            day = self.list_table.current_row.due

        def saved(activity_id: int | None) -> None:
            if activity_id is not None:
                self.notify(f"planned activity #{activity_id}", timeout=4)
                self._load(force=True)

        self.app.push_screen(ActivityForm(workspace, contact_id=None, due=day), saved)


class WhosePrompt(ModalScreen[str | None]):
    """Whose calendar: a login, `team:NAME`, or empty for mine. Dismisses with the scope."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="whose.cancel")]

    DEFAULT_CSS = """
    WhosePrompt {
        align: center middle;
    }
    WhosePrompt > Vertical {
        width: 60;
        max-width: 100%;
        height: auto;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    WhosePrompt Horizontal {
        height: 1;
    }
    WhosePrompt Label {
        width: 8;
    }
    WhosePrompt Input {
        width: 1fr;
    }
    WhosePrompt .hint {
        color: $text-muted;
    }
    """

    class Loaded(Message):
        def __init__(self, names: list[str]) -> None:
            super().__init__()
            self.names = names

    def __init__(self, workspace: Workspace, scope: str) -> None:
        super().__init__()
        self.workspace = workspace
        self.scope = scope

    def compose(self) -> ComposeResult:
        current = self.scope[5:] if self.scope.startswith("user:") else (
            self.scope if self.scope.startswith("team:") else "")
        with Vertical():
            yield Static(Text("Whose calendar?", style="bold"))
            with Horizontal():
                yield Label("Show")
                yield Input(current, id="whose", compact=True,
                            placeholder="a login · team:NAME · empty: mine")
            yield Static("enter shows it · esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#whose", Input).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, name="calendar owners")
    def load(self) -> None:
        from crm_tui.services.users import list_teams, list_users

        names = self.workspace.read(lambda s: [u.login for u in list_users(s, include_inactive=False)]
                                    + [f"team:{t.name}" for t in list_teams(s)])
        self.post_message(self.Loaded(names))

    def on_whose_prompt_loaded(self, message: WhosePrompt.Loaded) -> None:
        self.query_one("#whose", Input).suggester = SuggestFromList(message.names, case_sensitive=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text or text in ("me", "@me", "mine"):
            self.dismiss("mine")
        elif text.lower().startswith("team:"):
            self.dismiss(f"team:{text[5:].strip()}")
        else:
            self.dismiss(f"user:{text}")

    def action_cancel(self) -> None:
        self.dismiss(None)
