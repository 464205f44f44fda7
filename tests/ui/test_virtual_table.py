"""The virtual table on its own: column fitting, windowed fetching, cursor keys."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import App, ComposeResult

from crm_tui.widgets.virtual_table import WINDOW, Column, VirtualTable, _fit, fit_columns

COLUMNS = [
    Column("marker", "●", 1, lambda r: "●", priority=0),
    Column("name", "Name", 10, lambda r: f"row {r}", priority=0, grow=2),
    Column("city", "City", 8, lambda r: "Olpe", priority=2, grow=1),
    Column("phone", "Phone", 12, lambda r: "+49 2761", priority=1),
]


def test_fit_columns_keeps_the_important_ones_in_order():
    assert [(c.key, w) for c, w in fit_columns(COLUMNS, 12)] == [("marker", 1), ("name", 10)]
    # city would fit in 11 but name (more important) does not: name is shown cut instead
    assert [(c.key, w) for c, w in fit_columns(COLUMNS, 11)] == [("marker", 1), ("name", 9)]
    # phone (priority 1) fits before city (priority 2); spare width goes to the growing name
    assert [(c.key, w) for c, w in fit_columns(COLUMNS, 30)] == [
        ("marker", 1), ("name", 15), ("phone", 12),
    ]
    fitted = fit_columns(COLUMNS, 60)
    assert [c.key for c, _ in fitted] == ["marker", "name", "city", "phone"]
    assert sum(w for _, w in fitted) + len(fitted) - 1 == 60


def test_a_plain_cell_is_exactly_its_width():
    assert _fit("Olpe", 6, "left") == "Olpe  "
    assert _fit("42", 5, "right") == "   42"
    assert _fit("Kowalczyk-Nowak", 8, "left") == "Kowalcz…"
    # wide characters count two cells; a cut never leaves half of one
    cut = _fit("東京都千代田区", 6, "left")
    assert cell_len(cut) == 6 and cut.endswith("…")
    # a stray line break or tab in imported data stays on one line
    assert _fit("Line\nbreak\tx", 12, "left") == "Line break x"
    assert _fit("anything", 0, "left") == ""


class CountingSource:
    """A million rows that are never built: each fetch is counted."""

    def __init__(self, size: int):
        self.size = size
        self.fetches: list[int] = []

    def count(self) -> int:
        return self.size

    def fetch(self, offset: int, limit: int):
        self.fetches.append(offset)
        return list(range(offset, min(offset + limit, self.size)))


class TableApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[object] = []

    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS)

    def on_virtual_table_row_selected(self, message: VirtualTable.RowSelected) -> None:
        self.selected.append(message.row)


async def test_a_million_rows_fetch_only_the_windows_in_view():
    source = CountingSource(1_000_000)
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(VirtualTable)
        table.focus()
        table.set_source(source)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.row_count == 1_000_000
        assert source.fetches == [0]
        await pilot.press("end")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.cursor_row == 999_999
        assert table.current_row == 999_999
        assert max(source.fetches) == (999_999 // WINDOW) * WINDOW
        assert len(source.fetches) <= 3
        await pilot.press("home", "down", "down", "pagedown")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.cursor_row == 2 + 11  # a page: the 12 lines of the table less its header
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [13]
