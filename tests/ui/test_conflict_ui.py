"""Two sessions, one contact: two `CrmApp`s over the same SQLite file (each in its own
`run_test`, driven in turn) open the same contact's edit form; A saves first, B's save shows the
conflict dialog with both values, and what B chooses (take theirs, keep mine, field by field) is
exactly what ends up stored. Nothing of A's is lost unless B chose to overwrite it.

Also: the dialog's contract on its own (rows, defaults, what it dismisses with), and a stale
save of a user in Settings → Users (the same dialog, from the user form).
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from crm_tui.app import CrmApp
from crm_tui.screens.modals.conflict import ChoiceRow, ConflictDialog, ConflictResolution
from crm_tui.screens.modals.contact_form import ContactFormScreen
from crm_tui.services.errors import ConflictError, FieldConflict

SIZE = (100, 32)


@pytest.fixture(autouse=True)
def _no_typing_delays(monkeypatch):
    """The duplicate check runs at once instead of after 0.3 s of quiet typing."""
    from crm_tui.screens.modals import contact_form

    monkeypatch.setattr(contact_form, "DUPLICATE_DELAY", 0)


@pytest.fixture(autouse=True)
def _poll_only_when_told(monkeypatch):
    """The 2.5 s timer stays out of the way: the tests poll when they mean to."""
    import crm_tui.app

    monkeypatch.setattr(crm_tui.app, "DATA_POLL_SECONDS", 3600)


def a_customer(read_db):
    """A customer with a phone and an e-mail (tester, an admin, may edit any contact)."""
    from crm_tui.services.contacts import list_contacts
    from crm_tui.services.query import parse

    def work(session, actor):
        rows = list_contacts(session, actor, parse("status:customer", actor.today()), limit=50)
        return next(r for r in rows if r.phone and r.email and r.city)

    return read_db(work)


def stored(read_db, contact_id):
    from crm_tui.services.contacts import get_contact

    return read_db(lambda session, actor: get_contact(session, actor, contact_id))


class Driven:
    """One of the two apps, as the test drives it. Both run at once in the test's event loop;
    Textual finds "the app" through a context variable, so every direct touch of an app's
    widgets from the test happens inside that app's context (`with session:`)."""

    def __init__(self, app: CrmApp, pilot, ui) -> None:
        self.app, self.pilot, self.ui = app, pilot, ui

    def __enter__(self) -> Driven:
        self._context = self.app._context()
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    async def press(self, *keys: str) -> None:
        with self:
            await self.pilot.press(*keys)
            await self.ui.settle(self.app, self.pilot)

    async def settle(self) -> None:
        with self:
            await self.ui.settle(self.app, self.pilot)

    def text(self) -> str:
        with self:
            return self.ui.text(self.app)

    @property
    def screen(self):
        return self.app.screen


async def open_edit_form(session: Driven, contact_id: int) -> ContactFormScreen:
    await session.settle()
    with session:
        session.app.push_screen(ContactFormScreen(session.app.workspace, contact_id=contact_id))
    await session.settle()
    form = session.screen
    assert isinstance(form, ContactFormScreen)
    return form


def type_into(session: Driven, field: str, value: str) -> None:
    with session:
        widget = session.screen.query_one(f"#field-{field}", Input)
        widget.focus()
        widget.value = value


@pytest.mark.parametrize("choice", ["theirs", "mine", "field by field"])
async def test_two_apps_save_one_contact_and_the_second_chooses(demo_db, read_db, ui, choice):
    contact = a_customer(read_db)
    app_a = CrmApp(db_target=str(demo_db), login="tester")
    app_b = CrmApp(db_target=str(demo_db), login="tester")
    async with app_a.run_test(size=SIZE) as pilot_a, app_b.run_test(size=SIZE) as pilot_b:
        a, b = Driven(app_a, pilot_a, ui), Driven(app_b, pilot_b, ui)
        await open_edit_form(a, contact.id)
        await open_edit_form(b, contact.id)

        # A: a new city and a new phone. B (same version loaded): another city, a new e-mail.
        type_into(a, "city", "Siegen")
        type_into(a, "phone", "+49 271 555000")
        type_into(b, "city", "Köln")
        type_into(b, "email", "new@example.com")

        await a.press("ctrl+s")
        assert not isinstance(a.screen, ContactFormScreen), a.text()
        assert stored(read_db, contact.id).city == "Siegen"

        await b.press("ctrl+s")
        dialog = b.screen
        assert isinstance(dialog, ConflictDialog), b.text()
        text = b.text()
        assert "changed by someone else" in text
        assert contact.city in text and "Siegen" in text and "Köln" in text  # loaded, theirs, mine
        assert "new@example.com" in text
        rows = {row.row.field: row for row in dialog.query(ChoiceRow)}
        assert set(rows) == {"city", "email"}  # the phone: only A changed it, B did not send it
        assert rows["city"].row.needs_choice and rows["city"].choice == "mine"
        assert not rows["email"].row.needs_choice and rows["email"].choice == "mine"
        assert app_b.focused is rows["city"]  # the real conflict comes first

        if choice == "theirs":
            await b.press("t")
        elif choice == "mine":
            await b.press("m")
        else:
            await b.press("space")  # city: take theirs; the e-mail stays mine
            assert rows["city"].choice == "theirs"
            await b.press("enter")
        assert not isinstance(b.screen, (ConflictDialog, ContactFormScreen)), b.text()
        assert "Traceback" not in b.text()

    final = stored(read_db, contact.id)
    assert final.phone == "+49 271 555000"  # A's change B never touched survives every choice
    if choice == "theirs":
        assert (final.city, final.email) == ("Siegen", contact.email)
    elif choice == "mine":
        assert (final.city, final.email) == ("Köln", "new@example.com")
    else:
        assert (final.city, final.email) == ("Siegen", "new@example.com")


async def _conflict_in_b(demo_db, ui, app_a, pilot_a, app_b, pilot_b, contact_id):
    a, b = Driven(app_a, pilot_a, ui), Driven(app_b, pilot_b, ui)
    await open_edit_form(a, contact_id)
    await open_edit_form(b, contact_id)
    type_into(a, "city", "Siegen")
    type_into(b, "city", "Köln")
    await a.press("ctrl+s")
    await b.press("ctrl+s")
    assert isinstance(b.screen, ConflictDialog), b.text()
    return a, b


async def test_a_third_save_in_between_shows_the_dialog_again(demo_db, read_db, ui):
    """B resolves against A's save, but C saved meanwhile: B is asked again, never overwrites C."""
    from crm_tui.services.contacts import update_contact
    from crm_tui.workspace import open_workspace

    contact = a_customer(read_db)
    app_a = CrmApp(db_target=str(demo_db), login="tester")
    app_b = CrmApp(db_target=str(demo_db), login="tester")
    async with app_a.run_test(size=SIZE) as pilot_a, app_b.run_test(size=SIZE) as pilot_b:
        _, b = await _conflict_in_b(demo_db, ui, app_a, pilot_a, app_b, pilot_b, contact.id)

        third = open_workspace(demo_db, "tester")  # C: a command, the daemon, another session
        try:
            third.write(lambda s: update_contact(
                s, third.actor, contact.id, {"city": "Bonn"}, settings=third.settings))
        finally:
            third.close()

        await b.press("m")  # keep mine, against A's version: conflicts with C's save
        assert isinstance(b.screen, ConflictDialog), b.text()
        assert "Bonn" in b.text()
        assert stored(read_db, contact.id).city == "Bonn"
        await b.press("m")
        assert not isinstance(b.screen, (ConflictDialog, ContactFormScreen)), b.text()
    assert stored(read_db, contact.id).city == "Köln"


async def test_cancel_keeps_the_form_and_saves_nothing(demo_db, read_db, ui):
    contact = a_customer(read_db)
    app_a = CrmApp(db_target=str(demo_db), login="tester")
    app_b = CrmApp(db_target=str(demo_db), login="tester")
    async with app_a.run_test(size=SIZE) as pilot_a, app_b.run_test(size=SIZE) as pilot_b:
        _, b = await _conflict_in_b(demo_db, ui, app_a, pilot_a, app_b, pilot_b, contact.id)
        await b.press("escape")
        form = b.screen
        assert isinstance(form, ContactFormScreen)
        with b:
            assert form.query_one("#field-city", Input).value == "Köln"
    assert stored(read_db, contact.id).city == "Siegen"


# -- the dialog on its own ---------------------------------------------------------------------


def _error() -> ConflictError:
    return ConflictError("contact", 7, 5, [
        FieldConflict("phone", "1", "2", "1"),  # only I changed it
        FieldConflict("city", "Olpe", "Köln", "Siegen"),  # both
        FieldConflict("email", "a@x.de", "a@x.de", "b@x.de"),  # only they
    ])


@pytest.mark.parametrize(("keys", "values"), [
    (["m"], {"city": "Köln", "phone": "2", "email": "a@x.de"}),
    (["t"], {}),
    (["enter"], {"city": "Köln", "phone": "2"}),
    (["space", "down", "space", "enter"], {}),  # city and phone flipped to theirs
    (["down", "down", "right", "ctrl+s"], {"city": "Köln", "phone": "2", "email": "a@x.de"}),
])
async def test_the_dialog_dismisses_with_the_resolution(keys, values):
    from textual.app import App

    results: list[ConflictResolution | None] = []

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ConflictDialog(_error(), {"city": "Town"}), results.append)

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = "\n".join(s.text for s in app.screen._compositor.render_strips())
        assert "Contact 7 was changed by someone else" in text
        assert "Town" in text and "Siegen" in text and "Köln" in text
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
    assert len(results) == 1
    resolution = results[0]
    assert resolution is not None
    assert resolution.values == values
    assert resolution.expected_version == 5
    assert resolution.base == {"city": "Siegen", "phone": "1", "email": "b@x.de"}


async def test_escape_dismisses_with_none():
    from textual.app import App

    results: list[ConflictResolution | None] = []

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ConflictDialog(_error()), results.append)

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert results == [None]


# -- a stale user save (Settings → Users) -------------------------------------------------------


async def test_two_admins_edit_one_user(demo_db, read_db, ui):
    from crm_tui.screens.modals.user_form import UserFormScreen
    from crm_tui.services.users import get_user

    async def open_user_form(session: Driven) -> None:
        await session.settle()
        with session:
            app = session.app
            user = app.workspace.read(lambda s: get_user(s, "jonas.becker"))
            app.push_screen(UserFormScreen(app.workspace, user))
        await session.settle()
        assert isinstance(session.screen, UserFormScreen)

    app_a = CrmApp(db_target=str(demo_db), login="tester")
    app_b = CrmApp(db_target=str(demo_db), login="tester")
    async with app_a.run_test(size=SIZE) as pilot_a, app_b.run_test(size=SIZE) as pilot_b:
        a, b = Driven(app_a, pilot_a, ui), Driven(app_b, pilot_b, ui)
        await open_user_form(a)
        await open_user_form(b)
        type_into(a, "timezone", "Europe/Warsaw")
        type_into(b, "timezone", "Europe/London")
        type_into(b, "name", "Jonas B.")
        await a.press("ctrl+s")
        assert not isinstance(a.screen, UserFormScreen), a.text()
        await b.press("ctrl+s")
        assert isinstance(b.screen, ConflictDialog), b.text()
        text = b.text()
        assert "User jonas.becker was changed" in text
        assert "Europe/Warsaw" in text and "Europe/London" in text and "Time zone" in text
        await b.press("space", "enter")  # time zone: theirs; the name stays mine
        assert not isinstance(b.screen, (ConflictDialog, UserFormScreen)), b.text()
    user = read_db(lambda s, a: get_user(s, "jonas.becker"))
    assert (user.timezone, user.name) == ("Europe/Warsaw", "Jonas B.")


# -- the lock banner (for the contact card) ------------------------------------------------------


async def test_the_lock_banner_shows_the_lock_and_a_manager_releases_it(demo_db, read_db, ui):
    from textual.app import ComposeResult
    from textual.screen import Screen

    from crm_tui.services.contacts import get_contact, list_contacts
    from crm_tui.services.query import parse
    from crm_tui.widgets.lock_banner import LockBanner

    def locked_prospect(session, actor):
        for row in list_contacts(session, actor, parse("status:prospect", actor.today()), limit=300):
            detail = get_contact(session, actor, row.id)
            if detail.locked_by and detail.locked_by != actor.login:
                return detail
        raise AssertionError("the demo data has no prospect locked to someone else")

    contact = read_db(locked_prospect)
    released: list[LockBanner.Released] = []

    class Card(Screen):
        BINDINGS = [LockBanner.release_binding("card.release_lock")]

        def compose(self) -> ComposeResult:
            yield LockBanner(contact.id, id="card-lock")

        def action_release_lock(self) -> None:
            self.query_one(LockBanner).release()

        def on_lock_banner_released(self, message: LockBanner.Released) -> None:
            released.append(message)

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        card = Card()
        await app.push_screen(card)
        banner = card.query_one(LockBanner)
        assert not banner.display or not banner.has_class("-locked")  # nothing shown before
        banner.show(contact)
        await pilot.pause()
        text = ui.text(app)
        until = f"{contact.locked_until:%Y-%m-%d}"
        assert f"Locked by {contact.locked_by} until {until}" in text
        assert "u releases the lock" in text  # tester is an admin

        await pilot.press("u")
        await ui.settle(app, pilot)
        assert [m.was_locked_by for m in released] == [contact.locked_by]
        assert not banner.has_class("-locked")
        assert f"Locked by {contact.locked_by}" not in ui.text(app)
    assert read_db(lambda s, a: get_contact(s, a, contact.id)).locked_by is None


async def test_a_rep_sees_the_lock_without_the_key(demo_db, read_db, ui):
    from datetime import datetime

    from textual.app import ComposeResult
    from textual.screen import Screen

    from crm_tui.widgets.lock_banner import LockBanner

    class Card(Screen):
        def compose(self) -> ComposeResult:
            yield LockBanner(id="card-lock")

    app = CrmApp(db_target=str(demo_db), login="jonas.becker")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        card = Card()
        await app.push_screen(card)
        card.query_one(LockBanner).show_lock("anna.schmidt", datetime(2027, 5, 23, 9, 0))
        await pilot.pause()
        text = ui.text(app)
        assert "Locked by anna.schmidt until 2027-05-23" in text
        assert "releases" not in text
        card.query_one(LockBanner).show_lock("jonas.becker", datetime(2027, 5, 23, 9, 0))
        await pilot.pause()
        assert "Locked to you until 2027-05-23" in ui.text(app)
        card.query_one(LockBanner).show_lock(None, None)
        await pilot.pause()
        assert "Locked" not in ui.text(app)
