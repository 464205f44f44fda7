"""A month as a 7-column grid of days, each with its activity counts coloured by state.

Pure drawing: the calendar screen hands it the counts and reacts to `DaySelected`.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from crm_tui.widgets.format import state_colour

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKS = 6
LINES_PER_WEEK = 2


def grid_start(day: date) -> date:
    """The Monday on or before the first of `day`'s month (the grid's first cell)."""
    first = day.replace(day=1)
    return first - timedelta(days=first.weekday())


def grid_days(day: date) -> tuple[date, date]:
    """First and last date the grid of `day`'s month shows (six weeks)."""
    start = grid_start(day)
    return start, start + timedelta(days=7 * WEEKS - 1)


def shift_month(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the month's end."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def day_state(day: date, today: date) -> str:
    """The state open activities due on `day` are in."""
    if day < today:
        return "overdue"
    if day == today:
        return "today"
    return "planned"


class MonthGrid(Widget, can_focus=True):
    """Six weeks around a month; arrows move the selected day."""

    HELP_SECTION = "Calendar grid"

    DEFAULT_CSS = f"""
    MonthGrid {{
        height: {1 + WEEKS * LINES_PER_WEEK};
        background: $surface;
    }}
    MonthGrid:focus {{
        background-tint: $foreground 3%;
    }}
    """

    BINDINGS = [
        Binding("left", "move(-1)", "Previous day", show=False, id="calendar.left"),
        Binding("right", "move(1)", "Next day", show=False, id="calendar.right"),
        Binding("up", "move(-7)", "Previous week", show=False, id="calendar.up"),
        Binding("down", "move(7)", "Next week", show=False, id="calendar.down"),
    ]

    selected: reactive[date] = reactive(date(2000, 1, 1), always_update=True)
    today: reactive[date] = reactive(date(2000, 1, 1))

    class DaySelected(Message):
        def __init__(self, grid: MonthGrid, day: date) -> None:
            super().__init__()
            self.grid = grid
            self.day = day

        @property
        def control(self) -> MonthGrid:
            return self.grid

    def __init__(self, selected: date, today: date, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(MonthGrid.selected, selected)
        self.set_reactive(MonthGrid.today, today)
        self.counts: dict[date, tuple[int, int]] = {}
        """date -> (open, done), for the days shown."""

    def set_counts(self, counts: dict[date, tuple[int, int]]) -> None:
        self.counts = counts
        self.refresh()

    def watch_selected(self, old: date, new: date) -> None:
        self.post_message(self.DaySelected(self, new))
        self.refresh()

    def action_move(self, days: int) -> None:
        self.selected = self.selected + timedelta(days=days)

    def _cell_width(self) -> int:
        return max(self.size.width // 7, 4)

    def render(self) -> Text:
        width = self._cell_width()
        text = Text(no_wrap=True, end="")
        for name in WEEKDAYS:
            text.append(name[: width - 1].ljust(width), style="bold")
        start = grid_start(self.selected)
        month = self.selected.month
        for week in range(WEEKS):
            days = [start + timedelta(days=7 * week + i) for i in range(7)]
            text.append("\n")
            for day in days:
                style = "dim" if day.month != month else ""
                if day == self.today:
                    style += " bold underline"
                if day == self.selected:
                    style += " reverse"
                text.append(f"{day.day:>2}".ljust(width), style=style.strip())
            text.append("\n")
            for day in days:
                text.append_text(self._counts_cell(day, width))
        return text

    def _counts_cell(self, day: date, width: int) -> Text:
        open_count, done = self.counts.get(day, (0, 0))
        cell = Text(no_wrap=True, end="")
        if open_count:
            cell.append(f"●{open_count}", style=state_colour(day_state(day, self.today)))
        if done:
            if open_count:
                cell.append(" ")
            cell.append(f"✓{done}", style="dim")
        if day == self.selected:
            cell.stylize("reverse")
        cell.truncate(width - 1, overflow="crop")
        cell.append(" " * (width - cell.cell_len))
        return cell

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        week = (offset.y - 1) // LINES_PER_WEEK
        column = min(offset.x // self._cell_width(), 6)
        if week < WEEKS:
            self.selected = grid_start(self.selected) + timedelta(days=7 * week + column)

    @staticmethod
    def month_title(day: date) -> str:
        return f"{calendar.month_name[day.month]} {day.year}"
