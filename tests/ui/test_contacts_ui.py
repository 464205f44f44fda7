"""The contact list at 80x24 over the 300-contact demo database (CRM_NOW frozen): search as you
type (hit count, phone punctuation), the filter builder, all statuses, sorting, the groups sidebar
and dynamic groups, the contact form (duplicates under it, a field error that writes nothing, an
edit that conflicts) and the CSV import.

Expectations come from the services on the same database.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from crm_tui.app import CrmApp
from crm_tui.screens.contacts import ContactsScreen
from crm_tui.screens.modals.contact_form import ContactFormScreen
from crm_tui.screens.modals.filter_builder import FilterBuilder
from crm_tui.screens.modals.import_contacts import ImportDialog
from crm_tui.widgets.format import plural
from crm_tui.widgets.groups_sidebar import GroupsSidebar
from crm_tui.widgets.virtual_table import VirtualTable

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _no_typing_delays(monkeypatch):
    import crm_tui.screens.contacts
    from crm_tui.screens.modals import contact_form

    monkeypatch.setattr(crm_tui.screens.contacts, "SEARCH_DELAY", 0)
    monkeypatch.setattr(contact_form, "DUPLICATE_DELAY", 0)


def listed(read_db, query: str = "", limit: int = 500):
    """(rows, count) of the list for `query`, as the services give them."""
    from crm_tui.services.contacts import count_contacts, list_contacts
    from crm_tui.services.query import parse

    def work(session, actor):
        filt = parse(query, actor.today())
        return list_contacts(session, actor, filt, limit=limit), count_contacts(session, actor, filt)

    return read_db(work)


def contact(read_db, contact_id: int):
    from crm_tui.services.contacts import get_contact

    return read_db(lambda s, a: get_contact(s, a, contact_id))


def table(app) -> VirtualTable:
    return app.screen.query_one("#contacts-table", VirtualTable)


def ids_shown(app) -> list[int]:
    t = table(app)
    return [t.row_at(i).id for i in range(min(t.row_count or 0, 60)) if t.row_at(i) is not None]


async def start(app, pilot, ui) -> ContactsScreen:
    await ui.settle(app, pilot)
    assert isinstance(app.screen, ContactsScreen)
    return app.screen


async def test_search_shows_the_hit_count_and_phone_search_ignores_punctuation(demo_db, read_db, ui):
    rows, _ = listed(read_db)
    target = next(r for r in rows if r.phone and not r.phone.startswith("+") and len(r.phone) > 8)
    digits = "".join(ch for ch in target.phone if ch.isdigit())
    punctuated = f"{digits[:4]}/{digits[4:6]}-{digits[6:]}"
    spaced = " ".join(digits)
    _, hits = listed(read_db, digits)
    assert hits >= 1

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        for typed in (punctuated, spaced):
            await pilot.press("slash", "ctrl+a", "ctrl+k", *typed)
            await ui.settle(app, pilot)
            text = ui.text(app)
            assert plural(hits, "contact") in text, typed
            assert f"Search: {typed}" in text
            assert target.id in ids_shown(app)
            assert table(app).row_count == hits


async def test_filter_builder_writes_the_query_into_the_bar(demo_db, read_db, ui):
    rows, _ = listed(read_db, "status:customer")
    city = rows[0].city
    query = f"status:customer city:{city}" if " " not in city else f'status:customer city:"{city}"'
    expected, count = listed(read_db, query)

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("F")
        await ui.settle(app, pilot)
        builder = app.screen
        assert isinstance(builder, FilterBuilder)
        builder.query_one("#field-status", Select).value = "customer"
        builder.query_one("#field-city", Input).focus()
        await pilot.press(*city)
        await pilot.pause()
        assert f"filter: {query}" in ui.text(app)  # the query it builds, as it is built
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        text = ui.text(app)
        assert f"Filter: {query}" in text and plural(count, "contact") in text
        assert ids_shown(app)[: len(expected)] == [r.id for r in expected][:60]

        # the builder opens on the current filter; a bad date is refused next to its field
        await pilot.press("F")
        await ui.settle(app, pilot)
        builder = app.screen
        assert builder.query_one("#field-city", Input).value == city
        assert builder.query_one("#field-status", Select).value == "customer"
        builder.query_one("#field-created_from", Input).value = "yesterday-ish"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FilterBuilder)
        assert builder.query_one("#error-created").has_class("-shown")
        assert "is not a date" in ui.text(app)
        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert f"Filter: {query}" in ui.text(app)  # unchanged


async def test_h_shows_every_status_and_o_sorts_by_column(demo_db, read_db, ui):
    _, active = listed(read_db)
    _, every = listed(read_db, "status:all")
    assert every > active
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        assert plural(active, "contact") in ui.text(app)
        await pilot.press("h")
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert plural(every, "contact") in text and "+all statuses" in text
        await pilot.press("h")
        await ui.settle(app, pilot)
        assert plural(active, "contact") in ui.text(app)

        assert "Name↑" in ui.text(app)
        await pilot.press("o")  # sort by company
        await ui.settle(app, pilot)
        assert "Company↑" in ui.text(app) and "sort company" in ui.text(app)
        companies = [table(app).row_at(i).company for i in range(20)]
        assert companies == sorted(companies)
        await pilot.press("O")
        await ui.settle(app, pilot)
        assert "Company↓" in ui.text(app)


async def test_save_the_filter_as_a_dynamic_group_and_choose_it_in_the_sidebar(demo_db, read_db, ui):
    from crm_tui.services.groups import list_groups

    rows, _ = listed(read_db, "status:customer")
    city = next(r.city for r in rows if " " not in r.city)
    query = f"city:{city}"
    expected, count = listed(read_db, query)

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("f", *query, "enter")
        await ui.settle(app, pilot)
        await pilot.press("S")
        await ui.settle(app, pilot)
        assert f"filter: {query}" in ui.text(app)
        await pilot.press(*"Around town", "ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        groups = read_db(lambda s, a: list_groups(s, a))
        saved = next(g for g in groups if g.name == "Around town")
        assert saved.kind == "dynamic" and saved.query == query

        # back to all contacts, then the group from the sidebar
        await pilot.press("f", "ctrl+a", "ctrl+k", "enter")
        await ui.settle(app, pilot)
        assert "Filter: none" in ui.text(app)
        await pilot.press("g")
        await ui.settle(app, pilot)
        sidebar = app.screen.query_one(GroupsSidebar)
        assert sidebar.shown and "Around town" in ui.text(app)
        index = 1 + [g.name for g in sidebar.groups].index("Around town")
        await pilot.press(*["down"] * index, "enter")
        await ui.settle(app, pilot)
        text = ui.text(app)
        assert 'Filter: group:"Around town"' in text and plural(count, "contact") in text
        assert not sidebar.shown and table(app).has_focus  # at 80 columns it gives the room back
        assert ids_shown(app) == [r.id for r in expected][:60]


async def test_new_contact_lists_duplicates_of_any_status_under_the_form(demo_db, read_db, ui):
    rows, _ = listed(read_db, "status:archived,closed")
    existing = next(r for r in rows if r.email)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("a")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ContactFormScreen)
        form.query_one("#field-email", Input).focus()
        await pilot.press(*existing.email)
        await ui.settle(app, pilot)
        assert existing.id in [m.id for m in form.matches]
        panel = ui.static_text(form.query_one("#duplicates"))
        assert "possible duplicate" in panel and "same e-mail" in panel
        match = next(m for m in form.matches if m.id == existing.id)
        assert match.status in ("archived", "closed")
        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)


async def test_bad_input_is_shown_next_to_the_field_and_nothing_is_written(demo_db, read_db, ui):
    _, before = listed(read_db, "status:all")
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("a")
        await ui.settle(app, pilot)
        form = app.screen
        form.query_one("#field-status", Select).value = "customer"
        await pilot.press(*"Quux")
        form.query_one("#field-email", Input).focus()
        await pilot.press(*"quux-at-example")
        form.query_one("#field-expected_revenue", Input).value = "12.345"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactFormScreen)
        assert form.query_one("#error-email").has_class("-shown")
        assert "is not an e-mail address" in ui.text(app)
        assert form.focused is form.query_one("#field-email")
        assert listed(read_db, "status:all")[1] == before

        # fixed, it saves; customer numbers are refused when taken
        form.query_one("#field-email", Input).value = "quux@example.com"
        taken = next(r.customer_number for r in listed(read_db, "status:customer")[0] if r.customer_number)
        form.query_one("#field-customer_number", Input).value = taken
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert form.query_one("#error-customer_number").has_class("-shown")
        assert "already belongs to contact" in ui.text(app)
        assert listed(read_db, "status:all")[1] == before
        form.query_one("#field-customer_number", Input).value = ""
        await pilot.press("ctrl+n")  # the next number of the default sequence
        await ui.settle(app, pilot)
        number = form.query_one("#field-customer_number", Input).value
        assert number and number != taken
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
    rows, after = listed(read_db, 'name:Quux status:all')
    assert after == 1 and rows[0].customer_number == number and rows[0].email == "quux@example.com"


async def test_an_edit_that_conflicts_with_another_save_opens_the_dialog(demo_db, read_db, ui):
    from crm_tui.screens.modals.conflict import ConflictDialog
    from crm_tui.services.contacts import update_contact
    from crm_tui.workspace import open_workspace

    rows, _ = listed(read_db, "status:customer")
    target = rows[0]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("e")  # the contact under the cursor
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ContactFormScreen) and form.contact_id == target.id
        assert form.query_one("#field-name", Input).value == target.name

        other = open_workspace(demo_db, "tester")  # a second session saves first
        try:
            other.write(lambda s: update_contact(s, other.actor, target.id, {"city": "Attendorn"},
                                                 settings=other.settings))
        finally:
            other.close()

        form.query_one("#field-city", Input).value = "Wenden"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ConflictDialog), ui.text(app)
        text = ui.text(app)
        assert "Attendorn" in text and "Wenden" in text
        assert contact(read_db, target.id).city == "Attendorn"  # nothing of mine written yet
        await pilot.press("m")  # keep mine
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert contact(read_db, target.id).city == "Wenden"


async def test_import_checks_then_imports_into_the_inbox(demo_db, read_db, ui, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(
        "Name;Vorname;Firma;E-Mail;Stadt\n"
        "Importa;Ina;Importa GmbH;ina@importa.example;Olpe\n"
        "Importb;Ben;;not-an-address;Siegen\n"
        "Importc;Cem;Importc AG;cem@importc.example;Wenden\n",
        encoding="utf-8",
    )
    _, inbox = listed(read_db, "status:inbox")
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("I")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ImportDialog)
        await pilot.press(*str(path), "enter")
        await ui.settle(app, pilot)
        report = ui.static_text(app.screen.query_one("#import-report"))
        assert "3 rows read" in report and "2 valid" in report and "1 invalid" in report
        assert "line 3" in report and "email" in report
        assert listed(read_db, "status:inbox")[1] == inbox  # a dry run writes nothing
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        await pilot.press("f", *"status:inbox", "enter")
        await ui.settle(app, pilot)
        assert plural(inbox + 2, "contact") in ui.text(app)
    rows, count = listed(read_db, "name:Import* status:all")
    assert count == 2 and {r.status for r in rows} == {"inbox"}
