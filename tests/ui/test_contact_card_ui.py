"""The contact card at 80x24 over the demo database (CRM_NOW frozen): master data and activities,
the tabs (opportunities, the windowed history, attachments), converting with the notes
transferred, closing (a reason is required), archive and restore, the restricted inbox, the lock
banner and the keys a lock disables.

Expectations come from the services on the same database.
"""

from __future__ import annotations

from textual.widgets import Checkbox, Select, TextArea

from crm_tui.app import CrmApp
from crm_tui.screens.contact_card import ContactCardScreen
from crm_tui.screens.contacts import ContactsScreen
from crm_tui.screens.modals.confirm import ConfirmDialog
from crm_tui.screens.modals.contact_lifecycle import CloseDialog, ConvertDialog
from crm_tui.widgets.lock_banner import LockBanner
from crm_tui.widgets.virtual_table import VirtualTable

SIZE = (80, 24)


def details(read_db, query: str, limit: int = 300):
    """Full details of the contacts listed for `query`."""
    from crm_tui.services.contacts import get_contact, list_contacts
    from crm_tui.services.query import parse

    def work(session, actor):
        rows = list_contacts(session, actor, parse(query, actor.today()), limit=limit)
        return [get_contact(session, actor, r.id) for r in rows]

    return read_db(work)


def contact(read_db, contact_id: int):
    from crm_tui.services.contacts import get_contact

    return read_db(lambda s, a: get_contact(s, a, contact_id))


def history(read_db, contact_id: int, limit: int = 50):
    from crm_tui.services.audit import count_history, list_history

    return read_db(lambda s, a: (list_history(s, a, contact_id=contact_id, limit=limit),
                                 count_history(s, contact_id=contact_id)))


def edit_elsewhere(demo_db, login: str, contact_id: int, *changes: dict) -> None:
    """Another session saves changes to the contact (history rows by `login`)."""
    from crm_tui.services.contacts import update_contact
    from crm_tui.workspace import open_workspace

    other = open_workspace(demo_db, login)
    try:
        for values in changes:
            other.write(lambda s, v=values: update_contact(s, other.actor, contact_id, v,
                                                           settings=other.settings))
    finally:
        other.close()


async def open_card(app, pilot, ui, contact_id: int) -> ContactCardScreen:
    """Filter the list to one contact and press enter on it."""
    await ui.settle(app, pilot)
    assert isinstance(app.screen, ContactsScreen)
    await pilot.press("f", *f"id:{contact_id} status:all", "enter")
    await ui.settle(app, pilot)
    await pilot.press("enter")
    await ui.settle(app, pilot)
    card = app.screen
    assert isinstance(card, ContactCardScreen) and card.contact_id == contact_id
    return card


def enabled(card: ContactCardScreen, action: str) -> bool:
    return card.check_action(action, ()) is True


async def test_the_card_shows_data_activities_opportunities_and_history(demo_db, read_db, ui):
    from crm_tui.services.agenda import contact_agenda
    from crm_tui.services.opportunities import opportunities_of_contact

    def with_everything(session, actor):
        from crm_tui.services.contacts import list_contacts
        from crm_tui.services.query import parse

        for row in list_contacts(session, actor, parse("status:customer has:opportunity"), limit=200):
            planned = contact_agenda(session, actor, row.id)
            if planned:
                return row, planned, opportunities_of_contact(session, actor, row.id)
            raise AssertionError("no customer with opportunities and planned activities")

    row, planned, opportunities = read_db(with_everything)
    edit_elsewhere(demo_db, "thomas.mueller", row.id, {"city": "Drolshagen"}, {"source": "fair"})
    entries, total = history(read_db, row.id)
    assert total >= 2 and entries[0].user == "thomas.mueller"
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        card = await open_card(app, pilot, ui, row.id)
        text = ui.text(app)
        assert row.display_name[:30] in text and "[customer]" in text
        assert "Planned activities" in text and planned[0].deadline in text
        assert "Overview" in text and f"Opportunities ({len(opportunities)})" in text

        await pilot.press("2")
        await ui.settle(app, pilot)
        table = card.query_one("#card-opportunities", VirtualTable)
        assert table.has_focus and table.row_count == len(opportunities)
        assert opportunities[0].title[:17] in ui.text(app)
        await pilot.press("enter")  # opens the opportunity's card
        await ui.settle(app, pilot)
        assert type(app.screen).__name__ == "OpportunityCardScreen"
        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert app.screen is card

        await pilot.press("3")
        await ui.settle(app, pilot)
        timeline = card.query_one("#card-history", VirtualTable)
        assert timeline.row_count == total
        assert [timeline.row_at(i).id for i in range(min(total, 5))] == [e.id for e in entries[:5]]
        text = ui.text(app)
        assert "thomas.muel" in text and "source:" in text and "city:" in text

        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)


async def test_convert_with_the_notes_transferred(demo_db, read_db, ui):
    prospect = next(c for c in details(read_db, "status:prospect") if c.description.strip())
    before = {e.id for e in history(read_db, prospect.id, 500)[0]}
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        card = await open_card(app, pilot, ui, prospect.id)
        assert enabled(card, "convert") and enabled(card, "close_contact")
        await pilot.press("c")
        await ui.settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConvertDialog)
        assert f"Convert {prospect.display_name}" in ui.text(app)
        assert dialog.query_one("#field-transfer_notes", Checkbox).value  # it has notes
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is card
        assert "[customer]" in ui.text(app)
        assert not enabled(card, "convert")
    assert contact(read_db, prospect.id).status == "customer"
    new = [e for e in history(read_db, prospect.id, 500)[0] if e.id not in before]
    assert any(e.action == "note" and e.note == prospect.description for e in new)
    assert any(e.action == "status" and e.new_value == "customer" for e in new)


async def test_close_needs_a_reason_and_a_note(demo_db, read_db, ui):
    from crm_tui.services.lifecycle import list_lost_reasons

    customer = details(read_db, "status:customer", 1)[0]
    reason = read_db(lambda s, a: list_lost_reasons(s))[0].name
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        card = await open_card(app, pilot, ui, customer.id)
        await pilot.press("x")
        await ui.settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, CloseDialog)
        dialog.query_one("#field-note", TextArea).text = "moved abroad"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is dialog
        assert dialog.query_one("#error-reason").has_class("-shown")
        assert "a lost reason is required" in ui.text(app)
        assert contact(read_db, customer.id).status == "customer"

        dialog.query_one("#field-reason", Select).value = reason
        dialog.query_one("#field-note", TextArea).text = ""
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is dialog and dialog.query_one("#error-note").has_class("-shown")
        assert contact(read_db, customer.id).status == "customer"

        dialog.query_one("#field-note", TextArea).text = "moved abroad"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is card
        text = ui.text(app)
        assert "[closed]" in text and reason in text and "r restores" in text
    closed = contact(read_db, customer.id)
    assert closed.status == "closed" and closed.lost_reason == reason
    assert closed.close_note == "moved abroad"


async def test_archive_asks_then_restore_brings_it_back(demo_db, read_db, ui):
    customer = details(read_db, "status:customer", 2)[1]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        card = await open_card(app, pilot, ui, customer.id)
        assert not enabled(card, "restore")
        await pilot.press("a")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await ui.settle(app, pilot)
        assert contact(read_db, customer.id).status == "customer"
        await pilot.press("a")
        await ui.settle(app, pilot)
        await pilot.press("y")
        await ui.settle(app, pilot)
        assert contact(read_db, customer.id).status == "archived"
        assert "Archived" in ui.text(app) and enabled(card, "restore")
        assert not enabled(card, "plan") and not enabled(card, "convert")
        await pilot.press("r")
        await ui.settle(app, pilot)
        assert contact(read_db, customer.id).status == "customer"
        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)


async def test_an_inbox_contact_is_restricted_until_reviewed(demo_db, read_db, ui):
    inbox = details(read_db, "status:inbox", 1)[0]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        card = await open_card(app, pilot, ui, inbox.id)
        assert "Inbox: imported, not yet reviewed" in ui.text(app)
        for action in ("plan", "log", "convert", "add_opportunity"):
            assert not enabled(card, action), action
        assert enabled(card, "review") and enabled(card, "edit")
        await pilot.press("p")  # dimmed: nothing opens
        await ui.settle(app, pilot)
        assert app.screen is card
        await pilot.press("v")
        await ui.settle(app, pilot)
        dialog = app.screen
        await pilot.press("ctrl+s")  # to prospect: the seed-001 fields are required
        await ui.settle(app, pilot)
        if app.screen is dialog:
            assert "is required for a prospect" in ui.text(app)
            assert contact(read_db, inbox.id).status == "inbox"
            dialog.query_one("#field-to_status", Select).value = "customer"
            await pilot.press("ctrl+s")
            await ui.settle(app, pilot)
        assert app.screen is card
        assert contact(read_db, inbox.id).status in ("prospect", "customer")
        assert enabled(card, "plan")
        assert "Inbox:" not in ui.text(app)


async def test_a_prospect_locked_to_another_rep(demo_db, read_db, ui):
    """Seen by a rep who does not hold the lock: the banner names the holder and the date, and
    the keys that would change the prospect are dimmed."""
    locked = next(c for c in details(read_db, "status:prospect locked:yes")
                  if c.locked_by and c.locked_by != "emily.clarke")
    app = CrmApp(db_target=str(demo_db), login="emily.clarke")
    async with app.run_test(size=SIZE) as pilot:
        card = await open_card(app, pilot, ui, locked.id)
        banner = card.query_one(LockBanner)
        assert banner.locked
        assert f"Locked by {locked.locked_by} until {locked.locked_until:%Y-%m-%d}" in ui.text(app)
        for action in ("edit", "convert", "plan", "assign", "release_lock"):
            assert not enabled(card, action), action


async def test_an_attachment_is_listed_and_saved_to_a_file(demo_db, read_db, ui, tmp_path):
    from crm_tui import clock
    from crm_tui.models import Attachment
    from crm_tui.screens.modals.path_prompt import PathPrompt
    from crm_tui.workspace import open_workspace

    customer = details(read_db, "status:customer", 1)[0]
    data = b"%PDF-1.4 offer for 35 seats\n"
    workspace = open_workspace(demo_db, "tester")
    try:
        def attach(session):
            session.add(Attachment(contact_id=customer.id, filename="offer.pdf",
                                   mime_type="application/pdf", size=len(data), data=data,
                                   created_by_id=workspace.actor.id, created_at=clock.now()))

        workspace.write(attach)
    finally:
        workspace.close()
    target = tmp_path / "saved-offer.pdf"
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        card = await open_card(app, pilot, ui, customer.id)
        assert "Attachments (1)" in ui.text(app)
        await pilot.press("4")
        await ui.settle(app, pilot)
        assert "offer.pdf" in ui.text(app)
        await pilot.press("enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, PathPrompt)
        await pilot.press("ctrl+a", "ctrl+k", *str(target), "ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is card
    assert target.read_bytes() == data
