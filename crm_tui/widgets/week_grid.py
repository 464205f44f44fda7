"""A week as seven columns, Monday to Sunday, each listing its activities (time and summary,
coloured by state; done ones dimmed with ✓) under the day's header.

Pure drawing, like `MonthGrid`: the calendar screen hands it the week's items and reacts to
`DaySelected`. Arrows move the selected day (left/right a day, up/down a week).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from crm_tui.widgets.format import state_colour

ITEM_LINES = 8
"""Lines of items under each day's header (the last says "+N more" when they do not fit)."""


def week_start(day: date) -> date:
    """The Monday on or before `day`."""
    return day - timedelta(days=day.weekday())


def week_days(day: date) -> tuple[date, date]:
    start = week_start(day)
    return start, start + timedelta(days=6)


def item_text(item: Any, width: int) -> Text:
    """ "09:30 Anrufen" (or "· Anrufen" without a time) in the item's state colour."""
    text = Text(no_wrap=True, end="")
    done = getattr(item, "status", "planned") == "done"
    lead = item.time.strftime("%H:%M") if item.time else "·"
    text.append(lead + " ", style="bold" if item.time and not done else "")
    text.append(("✓" if done else "") + (item.summary or item.type))
    text.stylize("dim" if done else state_colour(item.state))
    text.truncate(max(width - 1, 1), overflow="ellipsis")
    text.append(" " * (width - text.cell_len))
    return text


class WeekGrid(Widget, can_focus=True):
    """Seven day columns with their activities; the selected day is highlighted."""

    HELP_SECTION = "Calendar week"

    DEFAULT_CSS = f"""
    WeekGrid {{
        height: {1 + ITEM_LINES};
        background: $surface;
    }}
    WeekGrid:focus {{
        background-tint: $foreground 3%;
    }}
    """

    BINDINGS = [
        Binding("left", "move(-1)", "Previous day", show=False, id="week.left"),
        Binding("right", "move(1)", "Next day", show=False, id="week.right"),
        Binding("up", "move(-7)", "Previous week", show=False, id="week.up"),
        Binding("down", "move(7)", "Next week", show=False, id="week.down"),
    ]

    selected: reactive[date] = reactive(date(2000, 1, 1), always_update=True)
    today: reactive[date] = reactive(date(2000, 1, 1))

    class DaySelected(Message):
        def __init__(self, grid: WeekGrid, day: date) -> None:
            super().__init__()
            self.grid = grid
            self.day = day

        @property
        def control(self) -> WeekGrid:
            return self.grid

    def __init__(self, selected: date, today: date, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(WeekGrid.selected, selected)
        self.set_reactive(WeekGrid.today, today)
        self.items: dict[date, list[Any]] = {}

    def set_items(self, items: Iterable[Any]) -> None:
        """The week's activities (anything with due, time, summary, type, state, status)."""
        by_day: dict[date, list[Any]] = {}
        for item in items:
            by_day.setdefault(item.due, []).append(item)
        self.items = by_day
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
        days = [week_start(self.selected) + timedelta(days=i) for i in range(7)]
        text = Text(no_wrap=True, end="")
        for day in days:
            style = "bold"
            if day == self.today:
                style += " underline"
            if day == self.selected:
                style += " reverse"
            label = f"{day:%a} {day.day}"
            count = len(self.items.get(day, ()))
            if count and len(f"{label} ({count})") <= width - 1:
                label += f" ({count})"
            elif count and len(f"{label}·{count}") <= width - 1:
                label += f"·{count}"
            text.append(label[: width - 1].ljust(width - 1), style=style)
            text.append(" ")
        for line in range(ITEM_LINES):
            text.append("\n")
            for day in days:
                items = self.items.get(day, [])
                if line == ITEM_LINES - 1 and len(items) > ITEM_LINES:
                    more = f"+{len(items) - ITEM_LINES + 1} more"
                    text.append(more[: width - 1].ljust(width), style="dim")
                elif line < len(items):
                    cell = item_text(items[line], width)
                    if day == self.selected:
                        cell.stylize("on grey23")
                    text.append_text(cell)
                else:
                    text.append(" " * width, style="on grey23" if day == self.selected else "")
        return text

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        column = min(offset.x // self._cell_width(), 6)
        self.selected = week_start(self.selected) + timedelta(days=column)
