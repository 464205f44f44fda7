"""The app driven by keyboard at 80x24 over a 300-contact demo database (CRM_NOW frozen).

Expectations come from the services on the same database, so the screens are checked against
the real data rather than against copies of it.
"""

from __future__ import annotations

import threading

from crm_tui.app import CrmApp
from crm_tui.screens.activities import ActivitiesScreen
from crm_tui.screens.board import BoardScreen, Card
from crm_tui.screens.calendar import CalendarScreen
from crm_tui.screens.contact_card import ContactCardScreen
from crm_tui.screens.contacts import ContactsScreen
from crm_tui.screens.help import HelpScreen
from crm_tui.screens.message import MessageScreen
from crm_tui.screens.modals.contact_form import ContactFormScreen
from crm_tui.screens.settings import SettingsScreen
from crm_tui.widgets.format import money, plural
from crm_tui.widgets.virtual_table import VirtualTable

SIZE = (80, 24)


def shown(name: str) -> str:
    """What a name column (at least 16 cells wide) always shows of `name`."""
    return name[:15]


def first_contact(read_db, query: str = ""):
    from crm_tui.services.contacts import count_contacts, list_contacts
    from crm_tui.services.query import parse

    def work(session, actor):
        filt = parse(query, actor.today())
        return list_contacts(session, actor, filt, limit=1)[0], count_contacts(session, actor, filt)

    return read_db(work)


async def test_every_screen_by_keyboard(demo_db, read_db, ui, monkeypatch):
    from crm_tui import config

    monkeypatch.setenv("CRM_SMTP_PASSWORD", "s3cret-pw")
    config.reset_settings()  # read_db has read them already
    from crm_tui.services.agenda import my_activities, my_activities_total
    from crm_tui.services.board import board_summary, list_pipelines

    row, total = first_contact(read_db)
    pipelines = read_db(lambda s, a: list_pipelines(s))
    summary = read_db(lambda s, a: board_summary(s, a, pipelines[0].id))
    agenda = read_db(lambda s, a: my_activities(s, a, 0, 5))
    count, revenue = read_db(lambda s, a: my_activities_total(s, a))

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert isinstance(app.screen, ContactsScreen)
        assert shown(row.display_name) in text
        assert plural(total, "contact") in text

        await pilot.press("f3")
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert isinstance(app.screen, BoardScreen)
        first = summary[0]
        assert pipelines[0].name in text and first.name in text
        counts = " ".join(str(first.counts[s]) for s in ("overdue", "today", "planned", "none"))
        assert counts in text
        assert money(first.expected_revenue, "EUR", cents=False) in text

        await pilot.press("f4")
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert isinstance(app.screen, ActivitiesScreen)
        assert agenda[0].deadline in text
        assert agenda[0].deadline.endswith("ago")  # the most urgent first
        assert f"{plural(count, 'open activity', 'open activities')} · expected revenue " \
               f"{money(revenue, 'EUR')}" in text

        await pilot.press("f5")
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert isinstance(app.screen, CalendarScreen)
        assert "November 2026" in text and "Mon 23 Nov" in text

        await pilot.press("f6")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert "config file" in ui.text(app)
        config_text = ui.static_text(app.screen.query_one("#settings-config"))
        assert "smtp.password" in config_text and "set (hidden)" in config_text
        assert "s3cret" not in config_text
        app.screen.query_one("#settings-pipelines").scroll_visible(animate=False, top=True)
        await pilot.pause()
        text = ui.text(app)
        assert pipelines[0].name in text and pipelines[0].stages[0].name in text

        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = ui.text(app)
        for key, label in (("F2", "Contacts"), ("F3", "Board"), ("F4", "Activities"),
                           ("F5", "Calendar"), ("F6", "Settings"), ("^q", "Quit")):
            assert any(key in line and label in line for line in text.splitlines()), key
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)

        # every screen keeps its state: back on Contacts, the list is still there
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, ContactsScreen) and shown(row.display_name) in ui.text(app)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert not app.is_running


async def test_first_paint_does_not_wait_for_the_database(demo_db, ui, monkeypatch):
    import crm_tui.workspace

    gate = threading.Event()
    real_open = crm_tui.workspace.open_workspace

    def slow_open(*args, **kwargs):
        gate.wait(timeout=30)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(crm_tui.workspace, "open_workspace", slow_open)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.workspace is None
        text = ui.text(app)
        assert "opening the database" in text and "F2 Contacts" in text
        await pilot.press("f3")  # responsive while the database is still opening
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)
        gate.set()
        await ui.settle(app, pilot)
        assert app.workspace is not None
        assert "opening the database" not in ui.text(app)
        assert app.screen.query(Card)


async def test_search_as_you_type_narrows_and_counts(demo_db, read_db, ui, monkeypatch):
    import crm_tui.screens.contacts

    monkeypatch.setattr(crm_tui.screens.contacts, "SEARCH_DELAY", 0)
    row, total = first_contact(read_db)
    word = row.name.split()[0][:6]
    hit, hits = first_contact(read_db, word)
    assert hits < total

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("slash", *word)
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert plural(hits, "contact") in text
        assert f"Search: {word}" in text
        table = app.screen.query_one(VirtualTable)
        assert table.row_count == hits and table.row_at(0).id == hit.id
        # enter goes back to the list; escape there keeps the search
        await pilot.press("enter", "down")
        assert table.has_focus


async def test_malformed_filter_shows_position_and_keeps_running(demo_db, read_db, ui):
    row, total = first_contact(read_db)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("f", *"a foo:b", "enter")
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert "at position 3: unknown field 'foo'" in text
        assert "Filter: none" in text and plural(total, "contact") in text
        # an unknown user is only found out by the database: reported the same way
        await pilot.press("ctrl+a", "ctrl+k", *"assigned:zz", "enter")
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert "at position 1: assigned: no user with login 'zz'" in text
        assert "Filter: none" in text and shown(row.display_name) in text  # the list stays as it was
        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert app.is_running and "Filter: none" in ui.text(app)
        # a good filter is applied and stays visible on its line
        _, count = first_contact(read_db, "city:Olpe")
        assert 0 < count < total
        await pilot.press("f", "ctrl+a", "ctrl+k", *"city:Olpe", "enter")
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert "Filter: city:Olpe" in text and plural(count, "contact") in text


async def test_add_contact_form_validates_then_saves(demo_db, read_db, ui):
    from crm_tui.services.contacts import count_contacts
    from crm_tui.services.query import parse

    def stored(name):
        return read_db(lambda s, a: count_contacts(s, a, parse(f'name:"{name}" status:all')))

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ContactFormScreen)
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert form.query_one("#error-name").has_class("-shown")
        assert "is required" in ui.text(app)

        # a prospect needs the seed-001 fields: the form shows them and names the missing one
        await pilot.press(*"Zyx", "ctrl+s")
        await ui.settle(app, pilot)
        assert not form.query_one("#error-name").has_class("-shown")
        assert form.query_one("#error-source").has_class("-shown")
        assert stored("Zyx") == 0

        # as a customer only the name is required
        form.query_one("#field-status").value = "customer"
        await pilot.pause()
        assert not form.query_one("#row-source").has_class("-required")
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert stored("Zyx") == 1
        await pilot.press("slash", *"Zyx", "enter")
        await ui.settle(app, pilot)
        assert "Zyx" in ui.text(app) and "1 contact " in ui.text(app)


async def test_enter_opens_the_contact_card(demo_db, read_db, ui):
    row, _ = first_contact(read_db)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactCardScreen)
        text = ui.text(app)
        assert row.display_name in text and "Planned activities" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ContactsScreen)


async def test_board_keys_move_between_cards_and_pipelines(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("f3")
        await ui.settle(app, pilot)
        board = app.screen
        first = board.focused
        assert isinstance(first, Card)
        await pilot.press("down")
        assert board.focused is not first and isinstance(board.focused, Card)
        await pilot.press("right")
        assert board.focused.card.id != first.card.id
        name = board.data.pipeline.name
        await pilot.press("p")
        await ui.settle(app, pilot)
        assert board.data.pipeline.name != name and board.data.pipeline.name in ui.text(app)


async def test_command_palette_goes_to_a_screen(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("ctrl+p", *"calendar")
        await ui.settle(app, pilot)
        await pilot.press("enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, CalendarScreen)


async def test_q_quits_but_is_typed_into_inputs(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("slash", "q")
        assert app.is_running and app.screen.query_one("#search").value == "q"
        await pilot.press("escape", "q")
        await pilot.pause()
    assert not app.is_running


async def test_unknown_login_gets_a_message_not_a_traceback(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="nobody")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        text = ui.text(app)
        assert "not a user of this database" in text and "'nobody'" in text
        assert "Traceback" not in text
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 1


async def test_a_database_that_cannot_be_opened(tmp_path, ui):
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    app = CrmApp(db_target=str(target / "crm.sqlite3"), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        assert "could not be opened" in ui.text(app)


async def test_unexpected_worker_error_is_logged_and_notified(demo_db, ui, monkeypatch):
    import crm_tui.services.contacts
    from crm_tui.paths import data_dir

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ui.settle(app, pilot)
        monkeypatch.setattr(crm_tui.services.contacts, "count_contacts", broken)
        await pilot.press("ctrl+r")
        await ui.settle(app, pilot)
        assert app.is_running
        messages = [n.message for n in app._notifications]
        assert any("RuntimeError: boom" in m and "crm.log" in m for m in messages)
    log = (data_dir() / "crm.log").read_text()
    assert "RuntimeError: boom" in log and "Traceback" in log


async def test_demo_data_is_made_on_first_use(tmp_path, ui, monkeypatch):
    from crm_tui.services.contacts import count_contacts
    from crm_tui.services.query import parse
    from crm_tui.workspace import open_workspace

    monkeypatch.setenv("CRM_NOW", "2026-11-23T10:00:00+01:00")
    target = tmp_path / "demo.sqlite3"
    app = CrmApp(db_target=str(target), login="tester", demo_contacts=25)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert app.workspace is not None and "opening the database" not in ui.text(app)
        table = app.screen.query_one(VirtualTable)
        assert 0 < table.row_count <= 25  # archived and closed ones are hidden by default
    workspace = open_workspace(target, "tester")
    try:
        every = parse("status:all")
        assert workspace.read(lambda s: count_contacts(s, workspace.actor, every)) == 25
    finally:
        workspace.close()


async def test_keymap_from_the_config_file_remaps_keys(demo_db, ui, tmp_path, monkeypatch):
    from crm_tui import config

    path = tmp_path / "config.toml"
    path.write_text('[keymap]\n"app.board" = "f9"\n', encoding="utf-8")
    monkeypatch.setenv("CRM_CONFIG", str(path))
    config.reset_settings()
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert "F9 Board" in ui.text(app)
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, ContactsScreen)
        await pilot.press("f9")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, BoardScreen)


def test_importing_the_app_loads_no_orm():
    """The first paint must not wait for SQLAlchemy/SQLModel (about 0.5 s): they load in the
    worker that opens the database."""
    import subprocess
    import sys

    code = (
        "import sys, crm_tui.app\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'alembic')"
        " or m.startswith(('crm_tui.services', 'crm_tui.models', 'crm_tui.db.'))]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
