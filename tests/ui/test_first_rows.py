"""Rows before the count, and the contact list's first rows before the workspace (issue 8).

Counting a long list reads all of it; its first window is a few index steps. The table draws the
rows as soon as they arrive, and the app shows the list as it opens from the SQLite file itself
(`crm_tui.quick`) while SQLAlchemy is still loading behind it.
"""

from __future__ import annotations

import asyncio
import threading

from textual.app import App, ComposeResult

from crm_tui.widgets.virtual_table import Column, VirtualTable

COLUMNS = [Column("name", "Name", 12, lambda r: f"row {r}", priority=0, grow=1)]


class SlowCount:
    """Windows at once; the count only when `counted` is set."""

    def __init__(self, size: int):
        self.size = size
        self.counted = threading.Event()

    def count(self) -> int:
        self.counted.wait(10)
        return self.size

    def fetch(self, offset: int, limit: int):
        return list(range(offset, min(offset + limit, self.size)))


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, loading_text="loading…")


def lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_rows_are_drawn_before_the_count_arrives():
    source = SlowCount(1_000_000)
    app = TableApp()
    async with app.run_test(size=(30, 8)) as pilot:
        table = app.query_one(VirtualTable)
        table.set_source(source)
        for _ in range(200):
            await pilot.pause(0.01)
            if table.row_at(0) is not None:
                break
        await pilot.pause()
        assert table.row_count is None  # still counting
        shown = lines(app)
        assert shown[1].strip() == "row 0" and shown[6].strip() == "row 5"
        assert "loading" not in "\n".join(shown)
        source.counted.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.row_count == 1_000_000
        assert lines(app)[1].strip() == "row 0"


async def test_an_empty_list_still_says_loading_until_counted():
    source = SlowCount(0)
    app = TableApp()
    async with app.run_test(size=(30, 8)) as pilot:
        table = app.query_one(VirtualTable)
        table.set_source(source)
        await pilot.pause(0.1)
        assert "loading…" in lines(app)[1]
        source.counted.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.row_count == 0


async def test_the_app_shows_the_quick_rows_while_the_workspace_opens(demo_db, read_db, monkeypatch):
    import crm_tui.workspace
    from crm_tui.app import CrmApp
    from crm_tui.quick import QuickContacts
    from crm_tui.screens.contacts import ContactSource
    from crm_tui.services.contacts import list_contacts
    from crm_tui.services.query import Filter

    expected = read_db(lambda s, a: list_contacts(s, a, Filter(), limit=60))
    opened = threading.Event()
    release = threading.Event()
    real_open = crm_tui.workspace.open_workspace

    def slow_open(*args, **kwargs):
        opened.set()
        release.wait(20)  # the workspace is held back until the quick rows were seen
        return real_open(*args, **kwargs)

    monkeypatch.setattr(crm_tui.workspace, "open_workspace", slow_open)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one("#contacts-table", VirtualTable)
        for _ in range(500):
            await pilot.pause(0.01)
            if table.row_at(0) is not None:
                break
        assert isinstance(table.source, QuickContacts)
        assert app.workspace is None
        assert [table.row_at(i) for i in range(len(expected))] == expected
        assert expected[0].name[:10] in "\n".join(lines(app))
        await asyncio.to_thread(opened.wait, 5)  # it waited for the paint, then began
        assert opened.is_set()
        release.set()
        for _ in range(500):
            await pilot.pause(0.01)
            if isinstance(table.source, ContactSource) and table.row_at(0) is not None:
                break
        assert app.workspace is not None
        assert isinstance(table.source, ContactSource)
        assert [table.row_at(i) for i in range(len(expected))] == expected
        await app.workers.wait_for_complete()
