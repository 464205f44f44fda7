"""Settings → Users: an admin adds and edits users through the form (a bad time zone is shown
next to its field and nothing is written); a rep sees the list read-only, with a note; the
shared-file note is there for everybody; an unknown login gets a message naming who can add it.
"""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select

from crm_tui.app import CrmApp
from crm_tui.screens.modals.user_form import UserFormScreen
from crm_tui.screens.settings import SettingsScreen
from crm_tui.screens.settings_users import UsersSection

SIZE = (100, 40)


def logins(read_db) -> list[str]:
    from crm_tui.services.users import list_users

    return [u.login for u in read_db(lambda s, a: list_users(s))]


def section_text(ui, app) -> str:
    section = app.screen.query_one(UsersSection)
    parts = [ui.static_text(section.query_one("#users-note")),
             ui.static_text(section.query_one("#users-shared-note"))]
    table = section.query_one(DataTable)
    for row in range(table.row_count):
        parts.append(" ".join(str(cell) for cell in table.get_row_at(row)))
    return "\n".join(parts)


async def open_users(app, pilot, ui) -> UsersSection:
    await ui.settle(app, pilot)
    await pilot.press("f6")
    await ui.settle(app, pilot)
    assert isinstance(app.screen, SettingsScreen)
    section = app.screen.query_one(UsersSection)
    section.query_one(DataTable).focus()
    await pilot.pause()
    return section


async def test_admin_adds_a_user_and_a_bad_time_zone_is_refused_at_the_field(demo_db, read_db, ui):
    from crm_tui.services.users import get_user

    before = logins(read_db)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await open_users(app, pilot, ui)
        text = section_text(ui, app)
        assert "jonas.becker" in text and "Jonas Becker" in text and "Europe/Berlin" in text
        assert "not a security boundary" in text and "docs/shared-server.md" in text
        assert "Add user" in ui.text(app)  # the footer shows the admin's keys

        await pilot.press("a")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, UserFormScreen)
        await pilot.press(*"zoe.new")
        form.query_one("#field-name", Input).value = "Zoe New"
        form.query_one("#field-email", Input).value = "zoe@example.com"
        form.query_one("#field-timezone", Input).value = "Mars/Olympus"
        form.query_one("#field-teams", Input).value = "Nord, Neu"
        form.query_one("#field-role", Select).value = "manager"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is form
        error = form.query_one("#error-timezone")
        assert error.has_class("-shown")
        assert "not an IANA time zone" in ui.static_text(error)
        assert "not an IANA time zone" in ui.text(app)
        assert logins(read_db) == before  # nothing written

        form.query_one("#field-timezone", Input).value = "Europe/Vienna"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert "zoe.new" in section_text(ui, app)

    zoe = read_db(lambda s, a: get_user(s, "zoe.new"))
    assert (zoe.name, zoe.email, zoe.timezone, zoe.role) == (
        "Zoe New", "zoe@example.com", "Europe/Vienna", "manager")
    assert zoe.teams == ("Neu", "Nord")


async def test_admin_edits_a_user(demo_db, read_db, ui):
    from crm_tui.services.users import get_user

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        section = await open_users(app, pilot, ui)
        table = section.query_one(DataTable)
        row = next(i for i, u in enumerate(section.users) if u.login == "jonas.becker")
        table.move_cursor(row=row)
        await pilot.press("enter")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, UserFormScreen)
        assert form.query_one("#field-name", Input).value == "Jonas Becker"
        form.query_one("#field-role", Select).value = "manager"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
    assert read_db(lambda s, a: get_user(s, "jonas.becker")).role == "manager"


async def test_a_rep_sees_the_users_read_only(demo_db, read_db, ui):
    before = logins(read_db)
    app = CrmApp(db_target=str(demo_db), login="jonas.becker")
    async with app.run_test(size=SIZE) as pilot:
        section = await open_users(app, pilot, ui)
        text = section_text(ui, app)
        assert "Read-only" in text and "only an admin" in text
        assert "thomas.mueller" in text.split("Read-only")[1]  # names an admin to ask
        assert "not a security boundary" in text
        assert "Add user" not in ui.text(app)

        await pilot.press("a")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, SettingsScreen)  # no form

        table = section.query_one(DataTable)
        other = next(i for i, u in enumerate(section.users) if u.login == "thomas.mueller")
        table.move_cursor(row=other)
        await pilot.press("e")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert any("Only an admin changes other users" in n.message for n in app._notifications)
    assert logins(read_db) == before


async def test_a_rep_changes_their_own_time_zone_only(demo_db, read_db, ui):
    from crm_tui.services.users import get_user

    app = CrmApp(db_target=str(demo_db), login="jonas.becker")
    async with app.run_test(size=SIZE) as pilot:
        section = await open_users(app, pilot, ui)
        table = section.query_one(DataTable)
        table.move_cursor(row=next(i for i, u in enumerate(section.users)
                                   if u.login == "jonas.becker"))
        await pilot.press("e")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, UserFormScreen)
        assert form.query_one("#field-role", Select).disabled
        assert form.query_one("#field-teams", Input).disabled
        form.query_one("#field-timezone", Input).value = "Europe/Lisbon"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, SettingsScreen)
        assert app.workspace.actor.timezone == "Europe/Lisbon"  # the session follows
    jonas = read_db(lambda s, a: get_user(s, "jonas.becker"))
    assert (jonas.timezone, jonas.role) == ("Europe/Lisbon", "rep")


async def test_an_unknown_login_is_told_who_can_add_it(demo_db, ui):
    from crm_tui.screens.message import MessageScreen

    app = CrmApp(db_target=str(demo_db), login="nobody")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        text = ui.text(app)
        assert "You are not a user of this database" in text
        assert "'nobody' is not a user of this database" in text
        assert "crm users add --login nobody" in text
        assert "Settings" in text and "F6" in text  # or in the app, by an admin
        assert "Traceback" not in text
