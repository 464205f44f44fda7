"""Refresh when others change data: the app reads the change counter (`poll_data_version`, run
by a 2.5 s timer; the tests call it instead of waiting) and the screen on top reloads in place;
a form on top is left alone and the screens below or in other modes refresh when shown again.
"""

from __future__ import annotations

import pytest

from crm_tui.app import DATA_POLL_SECONDS, CrmApp
from crm_tui.screens.base import MainScreen
from crm_tui.screens.contacts import ContactsScreen
from crm_tui.widgets.virtual_table import VirtualTable

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _poll_only_when_told(monkeypatch):
    """The 2.5 s timer stays out of the way: the tests poll when they mean to."""
    import crm_tui.app

    monkeypatch.setattr(crm_tui.app, "DATA_POLL_SECONDS", 3600)


def rename_from_outside(demo_db, contact_id: int, name: str) -> None:
    """Another session (or a command, or the daemon) renames a contact."""
    from crm_tui.services.contacts import update_contact
    from crm_tui.workspace import open_workspace

    other = open_workspace(demo_db, "tester")
    try:
        other.write(lambda s: update_contact(s, other.actor, contact_id, {"name": name},
                                             settings=other.settings))
    finally:
        other.close()


def row_ids(app) -> list[int]:
    table = app.screen.query_one(VirtualTable)
    return [table.row_at(i).id for i in range(min(table.row_count or 0, 10))]


def count_reloads(screen: MainScreen) -> list[int]:
    calls: list[int] = []
    original = screen.reload

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    screen.reload = counting  # type: ignore[method-assign]
    return calls


def test_the_poll_is_a_timer_not_a_loop():
    assert 2 <= DATA_POLL_SECONDS <= 3


async def test_the_list_shows_an_outside_change_after_a_poll(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        table = app.screen.query_one(VirtualTable)
        await pilot.press("down", "down", "down")
        cursor = table.cursor_row
        target = table.row_at(cursor)
        ids = row_ids(app)

        rename_from_outside(demo_db, target.id, f"{target.name} Zwo")
        await ui.settle(app, pilot)
        assert f"{target.name} Zwo" not in ui.text(app)  # nothing happens by itself in a test

        app.poll_data_version()
        await ui.settle(app, pilot)
        assert f"{target.name} Zwo"[:15] in ui.text(app)
        assert table.cursor_row == cursor  # refreshed in place
        assert row_ids(app) == ids


async def test_no_change_no_reload(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        reloads = count_reloads(app.screen)
        app.poll_data_version()
        await ui.settle(app, pilot)
        app.poll_data_version()
        await ui.settle(app, pilot)
        assert reloads == []


async def test_a_form_on_top_is_left_alone_and_the_list_refreshes_after(demo_db, ui):
    from crm_tui.screens.modals.contact_form import ContactFormScreen

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        contacts = app.screen
        table = contacts.query_one(VirtualTable)
        first = table.row_at(0)
        app.push_screen(ContactFormScreen(app.workspace, contact_id=first.id))
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ContactFormScreen)
        reloads = count_reloads(contacts)

        rename_from_outside(demo_db, first.id, f"{first.name} Zwo")
        app.poll_data_version()
        await ui.settle(app, pilot)
        assert app.screen is form  # the form is not refreshed under the rep's fingers
        assert form.query_one("#field-name").value == first.name
        assert reloads == []  # nor the list under it: marked stale

        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert app.screen is contacts
        assert reloads == [1]
        assert f"{first.name} Zwo"[:15] in ui.text(app)


async def test_another_mode_refreshes_when_it_is_shown(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        contacts = app.screen
        first = contacts.query_one(VirtualTable).row_at(0)
        await pilot.press("f5")  # the calendar
        await ui.settle(app, pilot)
        calendar = app.screen
        reloads = count_reloads(contacts)
        calendar_reloads = count_reloads(calendar)

        rename_from_outside(demo_db, first.id, f"{first.name} Zwo")
        app.poll_data_version()
        await ui.settle(app, pilot)
        assert calendar_reloads == [1]  # the screen on top
        assert reloads == []  # the others: when they are shown

        await pilot.press("f2")
        await ui.settle(app, pilot)
        assert app.screen is contacts
        assert reloads == [1]
        assert f"{first.name} Zwo"[:15] in ui.text(app)


async def test_each_main_screen_reloads_on_a_change(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        first = app.screen.query_one(VirtualTable).row_at(0)
        for key in ("f3", "f4", "f5", "f6", "f2"):
            await pilot.press(key)
            await ui.settle(app, pilot)
            screen = app.screen
            assert isinstance(screen, MainScreen)
            reloads = count_reloads(screen)
            rename_from_outside(demo_db, first.id, f"{first.name} {key}")
            app.poll_data_version()
            await ui.settle(app, pilot)
            assert reloads, f"{type(screen).__name__} did not reload"
            assert "Traceback" not in ui.text(app)
