"""The calendar: a month grid of the acting user's activities and the selected day's list.

The screen keeps one selected date and a view; the month view is a `MonthGrid` over
`services.agenda.day_counts`, and the day list comes from `activities_between`. Week, day and
list views are other widgets over the same date and the same two services (`period()` gives the
range a view shows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from crm_tui import clock
from crm_tui.screens.base import MainScreen
from crm_tui.widgets.format import plural, state_colour
from crm_tui.widgets.month_grid import MonthGrid, grid_days, shift_month
from crm_tui.widgets.virtual_table import Column, ListSource, VirtualTable

if TYPE_CHECKING:
    from crm_tui.services.agenda import CalendarItem
    from crm_tui.workspace import Workspace

SCOPES = ("mine", "team", "all")
SCOPE_LABELS = {"mine": "my activities", "team": "my teams' activities", "all": "everybody's"}


def period(view: str, day: date) -> tuple[date, date]:
    """The dates a view shows around `day` (first and last, both included)."""
    if view == "month":
        return grid_days(day)
    raise ValueError(f"unknown calendar view {view!r}")


def day_columns() -> list[Column]:
    return [
        Column("time", "Time", 5, lambda i: i.time.strftime("%H:%M") if i.time else "", priority=0),
        Column("type", "Type", 12, lambda i: i.type, priority=1),
        Column("summary", "Summary", 16, lambda i: ("✓ " if i.status == "done" else "") + i.summary,
               priority=0, grow=2),
        Column("contact", "Contact", 16, lambda i: i.contact, priority=0, grow=2),
        Column("opportunity", "Opportunity", 14, lambda i: i.opportunity or "", priority=2, grow=1),
    ]


@dataclass(frozen=True)
class MonthData:
    start: date
    end: date
    scope: str
    counts: dict[date, tuple[int, int]]


@dataclass(frozen=True)
class DayData:
    day: date
    scope: str
    items: list[CalendarItem]


class CalendarScreen(MainScreen):
    """Month grid and day list."""

    MODE = "calendar"
    TITLE = "Calendar"

    BINDINGS = [
        Binding("pageup", "month(-1)", "Previous month", id="calendar.previous_month",
                group=Binding.Group("Month")),
        Binding("pagedown", "month(1)", "Next month", id="calendar.next_month",
                group=Binding.Group("Month")),
        Binding("t", "today", "Today", id="calendar.today"),
        Binding("m", "scope", "Mine/team/all", id="calendar.scope"),
        Binding("enter", "day_list", "Day list", show=False, id="calendar.day_list"),
    ]

    class MonthLoaded(Message):
        def __init__(self, data: MonthData) -> None:
            super().__init__()
            self.data = data

    class DayLoaded(Message):
        def __init__(self, data: DayData) -> None:
            super().__init__()
            self.data = data

    def __init__(self) -> None:
        super().__init__()
        self.view = "month"
        self.scope = "mine"
        self._loaded_period: tuple[date, date, str] | None = None

    def compose_body(self) -> ComposeResult:
        today = clock.today(None)
        yield Static(id="calendar-status", classes="status-line")
        yield MonthGrid(today, today, id="calendar-grid")
        yield VirtualTable(day_columns(), id="calendar-day", empty_text="Nothing on this day.",
                           loading_text="…",
                           row_style=lambda i: "dim" if i.status == "done" else state_colour(i.state))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(MonthGrid).focus()
        self._show_status()

    @property
    def grid(self) -> MonthGrid:
        return self.query_one(MonthGrid)

    def workspace_ready(self, workspace: Workspace) -> None:
        today = workspace.actor.today()
        self.grid.today = today
        self.grid.selected = today
        self._load_period(force=True)

    def reload(self) -> None:
        self._load_period(force=True)

    def _load_period(self, force: bool = False) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        start, end = period(self.view, self.grid.selected)
        key = (start, end, self.scope)
        if force or key != self._loaded_period:
            self._loaded_period = key
            self.load_month(workspace, start, end, self.scope)
        self.load_day(workspace, self.grid.selected, self.scope)

    @work(thread=True, exclusive=True, exit_on_error=False, group="month", name="calendar month")
    def load_month(self, workspace: Workspace, start: date, end: date, scope: str) -> None:
        from crm_tui.services.agenda import day_counts

        counts = workspace.read(lambda s: day_counts(s, workspace.actor, start, end, scope))
        plain = {day: (c.open, c.done) for day, c in counts.items()}
        self.post_message(self.MonthLoaded(MonthData(start, end, scope, plain)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="day", name="calendar day")
    def load_day(self, workspace: Workspace, day: date, scope: str) -> None:
        from crm_tui.services.agenda import activities_between

        items = workspace.read(lambda s: activities_between(s, workspace.actor, day, day, scope))
        self.post_message(self.DayLoaded(DayData(day, scope, items)))

    def on_calendar_screen_month_loaded(self, message: CalendarScreen.MonthLoaded) -> None:
        if self._loaded_period == (message.data.start, message.data.end, message.data.scope):
            self.grid.set_counts(message.data.counts)

    def on_calendar_screen_day_loaded(self, message: CalendarScreen.DayLoaded) -> None:
        if message.data.day != self.grid.selected or message.data.scope != self.scope:
            return
        self.query_one("#calendar-day", VirtualTable).set_source(ListSource(message.data.items))
        self._show_status(len(message.data.items))

    @on(MonthGrid.DaySelected)
    def _day_selected(self, message: MonthGrid.DaySelected) -> None:
        self._show_status()
        self._load_period()

    def _show_status(self, day_count: int | None = None) -> None:
        selected = self.grid.selected
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(MonthGrid.month_title(selected), style="bold")
        line.append(f"  {SCOPE_LABELS[self.scope]}", style="dim")
        line.append(f"  {selected:%a %d %b}")
        if day_count is not None:
            line.append(f": {plural(day_count, 'activity', 'activities')}")
        self.query_one("#calendar-status", Static).update(line)

    def action_month(self, step: int) -> None:
        self.grid.selected = shift_month(self.grid.selected, step)

    def action_today(self) -> None:
        workspace = self.workspace
        self.grid.selected = workspace.actor.today() if workspace else clock.today(None)

    def action_scope(self) -> None:
        self.scope = SCOPES[(SCOPES.index(self.scope) + 1) % len(SCOPES)]
        self._load_period(force=True)
        self._show_status()

    def action_day_list(self) -> None:
        self.query_one("#calendar-day", VirtualTable).focus()

    @on(VirtualTable.RowSelected, "#calendar-day")
    def _open(self, message: VirtualTable.RowSelected) -> None:
        from crm_tui.screens.contact_card import ContactCardScreen

        self.app.push_screen(ContactCardScreen(message.row.contact_id))
