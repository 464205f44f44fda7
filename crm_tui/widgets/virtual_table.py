"""A virtual table: a line-API `ScrollView` that draws only the visible rows.

The rows come from a `RowSource` (two blocking calls, `count()` and `fetch(offset, limit)`) that
the table runs in thread workers, a window of `WINDOW` rows at a time, keeping the last few
windows in a small LRU cache. A million rows cost what sixty do: nothing is built per row until
it scrolls into view. Columns are fitted to the width: the most important ones stay when the
terminal is narrow.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, Protocol, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

Row = TypeVar("Row")
Row_co = TypeVar("Row_co", covariant=True)

WINDOW = 60
"""Rows fetched per query."""
CACHED_WINDOWS = 12
"""Windows kept in memory (the LRU cache)."""


class RowSource(Protocol[Row_co]):
    """Where the rows come from. Both methods block; the table calls them in worker threads."""

    def count(self) -> int: ...

    def fetch(self, offset: int, limit: int) -> Sequence[Row_co]: ...


class ListSource(Generic[Row]):
    """Rows already in memory (a bounded small list, e.g. one day of the calendar)."""

    def __init__(self, rows: Sequence[Row] = ()):
        self.rows = list(rows)

    def count(self) -> int:
        return len(self.rows)

    def fetch(self, offset: int, limit: int) -> Sequence[Row]:
        return self.rows[offset : offset + limit]


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One column: how to draw a row's cell and how much room it wants."""

    key: str
    label: str
    width: int
    """The minimum width."""
    cell: Callable[[Any], str | Text]
    priority: int = 5
    """Lower stays longer: when the table is narrow, the highest priorities are left out first."""
    grow: int = 0
    """Share of the spare width this column takes (0: stays at `width`)."""
    justify: Literal["left", "right"] = "left"


def fit_columns(columns: Sequence[Column], width: int, gap: int = 1) -> list[tuple[Column, int]]:
    """The columns that fit in `width` and their widths, shown in their given order.

    Columns are taken by priority until the next one does not fit (a less important column
    never pushes out a more important one); an essential column (priority 0) that does not fit
    is shown cut to what is left. The spare width goes to the growing columns.
    """
    chosen: dict[int, int] = {}
    used = 0
    for index, column in sorted(enumerate(columns), key=lambda item: (item[1].priority, item[0])):
        spacing = gap if chosen else 0
        if used + spacing + column.width > width:
            left = width - used - spacing
            if column.priority == 0 and left >= 3:
                chosen[index] = left
            break
        chosen[index] = column.width
        used += spacing + column.width
    fitted = [(c, chosen[i]) for i, c in enumerate(columns) if i in chosen]
    spare = width - sum(chosen.values()) - gap * (len(chosen) - 1)
    shares = sum(c.grow for c, _ in fitted)
    if spare > 0 and shares:
        grown = []
        left = spare
        growing = [c for c, _ in fitted if c.grow]
        for column, base in fitted:
            extra = 0
            if column.grow:
                extra = spare * column.grow // shares
                if column is growing[-1]:
                    extra = left
                left -= extra
            grown.append((column, base + extra))
        fitted = grown
    return fitted


class VirtualTable(ReportsWorkerErrors, ScrollView, Generic[Row], can_focus=True):
    """A cursor over a windowed, possibly huge list of rows."""

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
    }
    VirtualTable > .virtual-table--header {
        text-style: bold;
        background: $panel;
        color: $foreground;
    }
    VirtualTable > .virtual-table--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
    }
    VirtualTable:focus > .virtual-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    VirtualTable > .virtual-table--placeholder {
        color: $text-muted;
        text-style: italic;
    }
    """

    COMPONENT_CLASSES = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--placeholder",
    }

    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("home", "first", "First row", show=False, id="table.first"),
        Binding("end", "last", "Last row", show=False, id="table.last"),
        Binding("enter", "select", "Open", id="table.select"),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True)
    """Index of the highlighted row."""

    class Counted(Message):
        """The source was counted (after every reload)."""

        def __init__(self, table: VirtualTable, count: int) -> None:
            super().__init__()
            self.table = table
            self.count = count

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Failed(Message):
        """Counting or fetching raised an error meant for people (a ServiceError or DatabaseError)."""

        def __init__(self, table: VirtualTable, error: Exception) -> None:
            super().__init__()
            self.table = table
            self.error = error

        @property
        def control(self) -> VirtualTable:
            return self.table

    class RowHighlighted(Message):
        def __init__(self, table: VirtualTable, index: int, row: object | None) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class RowSelected(Message):
        """Enter (or a click on the highlighted row) on a loaded row."""

        def __init__(self, table: VirtualTable, index: int, row: object) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class _CountLoaded(Message, bubble=False):
        def __init__(self, generation: int, count: int) -> None:
            super().__init__()
            self.generation = generation
            self.count = count

    class _LoadFailed(Message, bubble=False):
        def __init__(self, generation: int, error: Exception) -> None:
            super().__init__()
            self.generation = generation
            self.error = error

    class _WindowLoaded(Message, bubble=False):
        def __init__(self, generation: int, window: int, rows: Sequence[Any]) -> None:
            super().__init__()
            self.generation = generation
            self.window = window
            self.rows = rows

    def __init__(
        self,
        columns: Sequence[Column[Row]],
        *,
        row_style: Callable[[Row], Style | str | None] | None = None,
        empty_text: str = "Nothing to show.",
        loading_text: str = "loading…",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        """Every column; `fit_columns` picks those that fit the width."""
        self.row_style = row_style
        self.empty_text = empty_text
        self.loading_text = loading_text
        self.source: RowSource[Row] | None = None
        self.row_count: int | None = None
        """None until the source has been counted."""
        self._generation = 0
        self._error: str | None = None
        """What went wrong loading the current source (shown instead of the rows)."""
        self._windows: OrderedDict[int, Sequence[Row]] = OrderedDict()
        self._pending: set[int] = set()
        self._counting = False
        """Whether the current source's count has been started (after its first window)."""
        self._frame_style: Style | None = None
        """The widget's rich style while a frame is rendered (see `render_lines`)."""
        self._fitted: tuple[int, list[tuple[Column, int]]] | None = None

    # -- data --------------------------------------------------------------------------------

    def set_source(self, source: RowSource[Row] | None, *, keep_cursor: bool = False) -> None:
        """Show rows from `source` (count, then the window under the cursor)."""
        self.source = source
        self.reload(keep_cursor=keep_cursor)

    def reload(self, *, keep_cursor: bool = True) -> None:
        """Forget the cached rows and fetch again (after a change, a new filter or sort)."""
        self._generation += 1
        self._error = None
        self._windows.clear()
        self._pending.clear()
        self.workers.cancel_group(self, "rows")
        if not keep_cursor:
            self.cursor_row = 0
            self.scroll_to(y=0, animate=False)
        if self.source is None:
            self.row_count = None
            self._set_height(0)
            self.refresh()
            return
        if not keep_cursor or self.row_count is None:
            self.row_count = None
        # The count starts once the first window is in (`_window_loaded`): on a long list it
        # reads every row and would take the second core from the window the person waits for.
        self._counting = False
        if keep_cursor and self.row_count:
            self._request(self.cursor_row // WINDOW)
            self._request(int(self.scroll_y) // WINDOW)
        else:
            self._request(0)
        self.refresh()

    def row_at(self, index: int) -> Row | None:
        """The row at `index` if it is loaded (None while its window is being fetched)."""
        window = self._windows.get(index // WINDOW)
        if window is None:
            return None
        offset = index % WINDOW
        return window[offset] if offset < len(window) else None

    @property
    def current_row(self) -> Row | None:
        if not self.row_count:
            return None
        return self.row_at(self.cursor_row)

    def _request(self, window: int) -> None:
        if self.source is None or window in self._windows or window in self._pending:
            return
        if self.row_count is not None and window * WINDOW >= max(self.row_count, 1):
            return
        self._pending.add(window)
        self.run_worker(
            partial(self._fetch_in_thread, self._generation, window, self.source),
            thread=True, group="rows", exit_on_error=False, name=f"fetch rows {window}",
        )

    def _count_in_thread(self, generation: int, source: RowSource[Row]) -> None:
        try:
            count = source.count()
        except Exception as error:
            if not _for_people(error):
                raise
            self.post_message(self._LoadFailed(generation, error))
            return
        self.post_message(self._CountLoaded(generation, count))

    def _fetch_in_thread(self, generation: int, window: int, source: RowSource[Row]) -> None:
        try:
            rows = source.fetch(window * WINDOW, WINDOW)
        except Exception as error:
            if not _for_people(error):
                raise
            self.post_message(self._LoadFailed(generation, error))
            return
        self.post_message(self._WindowLoaded(generation, window, list(rows)))

    @on(_CountLoaded)
    def _count_loaded(self, message: _CountLoaded) -> None:
        if message.generation != self._generation:
            return
        self.row_count = message.count
        self._set_height(message.count)
        if self.cursor_row >= message.count:
            self.cursor_row = max(message.count - 1, 0)
        self._scroll_cursor_into_view()
        self.post_message(self.Counted(self, message.count))
        self.refresh()

    @on(_LoadFailed)
    def _load_failed(self, message: _LoadFailed) -> None:
        # Re-posted from the event loop: messages made in a worker thread have no sender, and
        # `@on(..., selector)` handlers ignore sender-less messages.
        if message.generation != self._generation or self._error is not None:
            return
        self._error = str(message.error)
        self.row_count = 0
        self._set_height(0)
        self.refresh()
        self.post_message(self.Failed(self, message.error))

    def _start_count(self, generation: int) -> None:
        if self._counting or self.source is None or generation != self._generation:
            return
        self._counting = True
        self.run_worker(
            partial(self._count_in_thread, self._generation, self.source),
            thread=True, group="count", exclusive=True, exit_on_error=False,
            name="count rows",
        )

    @on(_WindowLoaded)
    def _window_loaded(self, message: _WindowLoaded) -> None:
        if message.generation != self._generation:
            return
        # After this window is painted: the count reads every matching row, and on two cores
        # it would slow the frame the person is waiting for.
        self.call_after_refresh(self._start_count, message.generation)
        self._pending.discard(message.window)
        self._windows[message.window] = message.rows
        self._windows.move_to_end(message.window)
        while len(self._windows) > CACHED_WINDOWS:
            self._windows.popitem(last=False)
        start = message.window * WINDOW
        if start <= self.cursor_row < start + WINDOW:
            self._announce_highlight()
        self.refresh()

    def _set_height(self, count: int) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, count + 1)

    # -- cursor ------------------------------------------------------------------------------

    @property
    def _visible_rows(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def move_cursor(self, index: int) -> None:
        if not self.row_count:
            return
        self.cursor_row = min(max(index, 0), self.row_count - 1)

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self._announce_highlight()
        self.refresh()

    def _announce_highlight(self) -> None:
        if self.row_count:
            self.post_message(self.RowHighlighted(self, self.cursor_row, self.current_row))

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + self._visible_rows:
            self.scroll_to(y=self.cursor_row - self._visible_rows + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - self._visible_rows)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + self._visible_rows)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(self.row_count - 1)

    def action_select(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.RowSelected(self, self.cursor_row, row))

    def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1 or not self.row_count:
            return
        index = int(self.scroll_y) + offset.y - 1
        if index >= self.row_count:
            return
        if index == self.cursor_row and event.chain >= 2:
            self.action_select()
        self.move_cursor(index)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        if self.row_count is not None:
            self._set_height(self.row_count)
        self._scroll_cursor_into_view()

    # -- drawing -----------------------------------------------------------------------------

    def _layout(self, width: int) -> list[tuple[Column, int]]:
        if self._fitted is None or self._fitted[0] != width:
            self._fitted = (width, fit_columns(self.columns, width))
        return self._fitted[1]

    def set_columns(self, columns: Sequence[Column[Row]]) -> None:
        self.columns = list(columns)
        self._fitted = None
        self.refresh()

    def render_lines(self, crop) -> list[Strip]:
        # The widget's style is a walk up the DOM: once per frame rather than twice per line.
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._frame_style or self.rich_style
        if y == 0:
            return self._header(width)
        count = self.row_count
        if count is None and self._error is None:
            # The first window usually arrives before the count (counting a long list reads
            # all of it): its rows are drawn at once, the scroll range follows with the count.
            index = int(self.scroll_y) + y - 1
            row = self.row_at(index)
            if row is not None:
                return self._row_strip(row, index, width)
            if self._windows and y != 1:
                return Strip.blank(width, base)
        if count is None or count == 0:
            if y != 1:
                return Strip.blank(width, base)
            if self._error is not None:
                text = f"✗ {self._error}"
            elif count is None or self.source is None:
                text = self.loading_text
            else:
                text = self.empty_text
            style = self.get_component_rich_style("virtual-table--placeholder")
            return Strip([Segment(f" {text}", style)]).adjust_cell_length(width, base)
        index = int(self.scroll_y) + y - 1
        if index >= count:
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            self._request(index // WINDOW)
            style = self.get_component_rich_style("virtual-table--placeholder")
            if index == self.cursor_row:
                style = style + self.get_component_rich_style("virtual-table--cursor")
            return Strip([Segment(" …", style)]).adjust_cell_length(width, style)
        return self._row_strip(row, index, width)

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("virtual-table--header")
        line = Text(no_wrap=True, end="")
        for position, (column, size) in enumerate(self._layout(width)):
            if position:
                line.append(" ")
            line.append(_cell(Text(column.label), size, column.justify))
        return Strip(line.render(self.app.console)).adjust_cell_length(width).apply_style(style)

    def _row_strip(self, row: Row, index: int, width: int) -> Strip:
        base = self._frame_style or self.rich_style
        row_style = self.row_style(row) if self.row_style else None
        if isinstance(row_style, str):
            row_style = Style.parse(row_style)
        # Plain cells become one segment each; only a cell that is a `Text` (a styled mark)
        # goes through Rich's renderer. A screen of rows is drawn for every keystroke.
        segments: list[Segment] = []
        console = self.app.console
        for position, (column, size) in enumerate(self._layout(width)):
            if position:
                segments.append(Segment(" "))
            value = column.cell(row)
            if isinstance(value, Text):
                cell = value.copy()
                if row_style is not None:
                    cell.stylize_before(row_style)
                segments.extend(_cell(cell, size, column.justify).render(console))
            else:
                plain = "" if value is None else str(value)
                segments.append(Segment(_fit(plain, size, column.justify), row_style))
        strip = Strip(segments).adjust_cell_length(width)
        if index == self.cursor_row:
            return strip.apply_style(self.get_component_rich_style("virtual-table--cursor"))
        return strip.apply_style(base)


_UNPRINTABLE = {code: " " for code in (*range(0x00, 0x20), 0x7F)}


def _fit(text: str, width: int, justify: str) -> str:
    """`text` as exactly `width` cells: one line, cut with an ellipsis, padded on the side
    `justify` says (what `_cell` does for a `Text`, without building one)."""
    if not text.isprintable():
        text = text.translate(_UNPRINTABLE)
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 0 else ""
    padding = " " * (width - length)
    return padding + text if justify == "right" else text + padding


def _cell(text: Text, width: int, justify: str) -> Text:
    """Exactly `width` cells: cut with an ellipsis, padded on the side `justify` says."""
    text = text.copy()
    text.no_wrap = True
    if text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    padding = width - text.cell_len
    if padding > 0:
        if justify == "right":
            text = Text(" " * padding) + text
        else:
            text.append(" " * padding)
    return text


def _for_people(error: Exception) -> bool:
    """Errors a person can act on: bad input, permissions, an unreachable database."""
    from crm_tui.services.errors import ServiceError

    if isinstance(error, ServiceError):
        return True
    try:
        from crm_tui.db.engine import DatabaseError
    except ImportError:  # pragma: no cover - the package is always there
        return False
    return isinstance(error, DatabaseError)
