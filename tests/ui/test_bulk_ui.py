"""Marking contacts and the bulk actions at 80x24 (CRM_NOW frozen): space, all matching, invert,
clear; archive with the count in the confirmation; delete asks with the count and starts on
"Cancel"; assign, add to a new group, export and mass e-mail; and a bulk action over ~5,000
contacts that reports its progress and completes, all or nothing.

Expectations come from the services on the same database.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import Select, TextArea

from crm_tui import config
from crm_tui.app import CrmApp
from crm_tui.screens.contacts import ContactsScreen
from crm_tui.screens.modals.bulk_actions import AssignDialog, BulkMenu, NewGroupDialog
from crm_tui.screens.modals.confirm import ConfirmDialog
from crm_tui.screens.modals.mass_mail import MassMailDialog
from crm_tui.screens.modals.path_prompt import PathPrompt
from crm_tui.widgets.format import plural
from crm_tui.widgets.virtual_table import VirtualTable

SIZE = (80, 24)
NOW = "2026-11-23T10:00:00+01:00"
BIG = 5000


@pytest.fixture(autouse=True)
def _no_typing_delays(monkeypatch):
    import crm_tui.screens.contacts

    monkeypatch.setattr(crm_tui.screens.contacts, "SEARCH_DELAY", 0)


def count(read_db, query: str) -> int:
    from crm_tui.services.contacts import count_contacts
    from crm_tui.services.query import parse

    return read_db(lambda s, a: count_contacts(s, a, parse(query, a.today())))


def rows(read_db, query: str = "", limit: int = 100):
    from crm_tui.services.contacts import list_contacts
    from crm_tui.services.query import parse

    return read_db(lambda s, a: list_contacts(s, a, parse(query, a.today()), limit=limit))


def busiest_city(read_db) -> str:
    """A one-word city with several active contacts (a filter to mark all of)."""
    from collections import Counter

    cities = Counter(r.city for r in rows(read_db, limit=400) if r.city and " " not in r.city)
    return cities.most_common(1)[0][0]


async def start(app, pilot, ui) -> ContactsScreen:
    await ui.settle(app, pilot)
    assert isinstance(app.screen, ContactsScreen)
    return app.screen


def table(app) -> VirtualTable:
    return app.screen.query_one("#contacts-table", VirtualTable)


async def test_space_marks_star_marks_all_matching_i_inverts_u_clears(demo_db, read_db, ui):
    total = count(read_db, "")
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start(app, pilot, ui)
        first, second = table(app).row_at(0), table(app).row_at(1)
        await pilot.press("space", "space")
        text = ui.text(app)
        assert "✓ 2 marked" in text
        assert screen.marks.ids == {first.id, second.id}
        assert table(app).cursor_row == 2  # space moves on
        await pilot.press("up", "space")  # unmark the second
        assert screen.marks.ids == {first.id}

        await pilot.press("i")  # everything matching but the first
        text = ui.text(app)
        assert f"✓ {total - 1:,} marked (all)" in text
        assert screen.marks.all_matching and screen.marks.excluded == {first.id}
        await pilot.press("i")
        assert screen.marks.ids == {first.id} and not screen.marks.all_matching

        await pilot.press("asterisk")
        assert f"✓ {total:,} marked (all)" in ui.text(app)
        await pilot.press("home", "space")  # unmarking one of all
        assert f"✓ {total - 1:,} marked (all)" in ui.text(app)
        await pilot.press("u")
        assert "marked" not in ui.text(app) and screen.marks.count == 0

        # marks of "all matching" end with the filter they were made with
        await pilot.press("asterisk", "slash", *"a")
        await ui.settle(app, pilot)
        assert screen.marks.count == 0


async def test_bulk_archive_of_all_matching_names_the_count(demo_db, read_db, ui):
    city = busiest_city(read_db)
    matching = count(read_db, f"city:{city}")
    archived = count(read_db, "status:archived")
    assert matching >= 2
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start(app, pilot, ui)
        await pilot.press("f", *f"city:{city}", "enter")
        await ui.settle(app, pilot)
        await pilot.press("asterisk", "b")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, BulkMenu)
        assert f"all {plural(matching, 'matching contact')}" in ui.text(app)
        await pilot.press("r")  # archive
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert f"Archive {plural(matching, 'contact')}?" in ui.text(app)
        await pilot.press("y")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert screen.marks.count == 0
        assert "0 contacts" in ui.text(app) and f"Filter: city:{city}" in ui.text(app)
        assert any(f"Archived {plural(matching, 'contact')}" in str(n.message)
                   for n in app._notifications)
    assert count(read_db, f"city:{city}") == 0
    assert count(read_db, "status:archived") == archived + matching


async def test_delete_states_the_count_and_starts_on_cancel(demo_db, read_db, ui):
    first, second = rows(read_db, limit=2)
    total = count(read_db, "status:all")
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("space", "space", "b", "d")
        await ui.settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert "Delete 2 contacts permanently?" in ui.text(app)
        await pilot.press("enter")  # the focus is on Cancel
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert count(read_db, "status:all") == total
        await pilot.press("b", "d", "y")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
    assert count(read_db, "status:all") == total - 2
    assert count(read_db, f"id:{first.id},{second.id} status:all") == 0


async def test_assign_and_a_new_group_from_the_marks(demo_db, read_db, ui):
    from crm_tui.services.groups import list_groups, list_members

    marked = rows(read_db, limit=3)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start(app, pilot, ui)
        await pilot.press("space", "space", "space", "b", "a")
        await ui.settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, AssignDialog) and "Assign 3 contacts" in ui.text(app)
        dialog.query_one("#field-assigned_to", Select).value = "team:Süd"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert screen.marks.count == 0  # the list changed under them

        await pilot.press("home", "space", "space", "space", "b", "n")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, NewGroupDialog)
        await pilot.press(*"Trade fair 2026", "ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert screen.marks.count == 3  # kept: another action on the same contacts may follow
    assigned = {r.id for r in rows(read_db, "team:Süd", 300)}
    assert {r.id for r in marked} <= assigned
    group = next(g for g in read_db(lambda s, a: list_groups(s, a)) if g.name == "Trade fair 2026")
    members = read_db(lambda s, a: list_members(s, a, group.id))
    assert group.kind == "static" and len(members) == 3


async def test_export_the_marked_contacts_to_a_file(demo_db, read_db, ui, tmp_path):
    marked = rows(read_db, limit=2)
    target = tmp_path / "two.json"
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("space", "space", "x")
        await ui.settle(app, pilot)
        prompt = app.screen
        assert isinstance(prompt, PathPrompt) and "Export 2 contacts" in ui.text(app)
        await pilot.press("ctrl+a", "ctrl+k", *str(target))
        assert prompt.query_one("#field-format", Select).value == "json"  # from the name
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
    records = json.loads(target.read_text(encoding="utf-8"))
    records = records.get("contacts", records) if isinstance(records, dict) else records
    assert sorted(r["id"] for r in records) == sorted(r.id for r in marked)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".crm-")]  # no temp file left

    # without marks, x exports what the list shows
    city = busiest_city(read_db)
    every = tmp_path / "city.csv"
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("f", *f"city:{city}", "enter", "x")
        await ui.settle(app, pilot)
        await pilot.press("ctrl+a", "ctrl+k", *str(every), "ctrl+s")
        await ui.settle(app, pilot)
    with every.open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == count(read_db, f"city:{city}")


async def test_mass_mail_previews_the_count_then_queues(demo_db, read_db, ui):
    from crm_tui.services.outbox import list_outbox

    with_mail = [r for r in rows(read_db, limit=20) if r.email][:3]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start(app, pilot, ui)
        for r in with_mail:
            screen.marks.toggle(r.id)
        await pilot.press("m")
        await ui.settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, MassMailDialog)
        await pilot.press(*"News for {company}")
        dialog.query_one("#field-template", TextArea).text = "Hello {first_name} {name},\nnews.\n"
        await pilot.press("ctrl+s")  # not previewed yet: it previews instead
        await ui.settle(app, pilot)
        assert app.screen is dialog and "3 mails to queue" in ui.static_text(
            dialog.query_one("#mail-preview"))
        assert list_outbox_count(read_db) == 0

        dialog.query_one("#field-template", TextArea).text = "Hello {nickname}"
        await pilot.press("ctrl+r")
        await ui.settle(app, pilot)
        assert dialog.query_one("#error-template").has_class("-shown")
        assert "unknown field {nickname}" in ui.text(app)

        dialog.query_one("#field-template", TextArea).text = "Hello {first_name} {name},\nnews.\n"
        await pilot.press("ctrl+r")
        await ui.settle(app, pilot)
        preview = ui.static_text(dialog.query_one("#mail-preview"))
        first = with_mail[0]
        assert "3 mails to queue" in preview and f"To: {first.email}" in preview
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog) and "Queue 3 mails?" in ui.text(app)
        await pilot.press("y")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
    mails = read_db(lambda s, a: list_outbox(s, a, kind="mass", limit=10))
    assert len(mails) == 3 and {m.to[0] for m in mails} == {r.email for r in with_mail}


def list_outbox_count(read_db) -> int:
    from crm_tui.services.outbox import list_outbox

    return len(read_db(lambda s, a: list_outbox(s, a, kind="mass", limit=100)))


# -- a bulk action over ~5,000 contacts ------------------------------------------------------


@pytest.fixture(scope="session")
def _big_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from crm_tui.db.engine import open_database
    from crm_tui.db.migrate import ensure_schema
    from crm_tui.services.demo import generate_demo

    folder = tmp_path_factory.mktemp("big-template")
    path = folder / "big.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRM_NOW", NOW)
        patch.setenv("CRM_CONFIG", str(folder / "absent.toml"))
        config.reset_settings()
        db = open_database(path)
        try:
            ensure_schema(db, backup=False)
            generate_demo(db, BIG, seed=2, acting_login="tester")
        finally:
            db.dispose()
        config.reset_settings()
    return path


@pytest.fixture
def big_db(_big_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "big.sqlite3"
    shutil.copyfile(_big_template, path)
    monkeypatch.setenv("CRM_NOW", NOW)
    monkeypatch.setenv("CRM_USER", "tester")
    return path


async def test_a_bulk_action_over_thousands_shows_progress_and_completes(big_db, ui, monkeypatch):
    import crm_tui.screens.contacts
    from crm_tui.services.contacts import count_contacts
    from crm_tui.services.query import parse
    from crm_tui.workspace import open_workspace

    monkeypatch.setattr(crm_tui.screens.contacts, "PROGRESS_INTERVAL", 0)
    workspace = open_workspace(big_db, "tester")
    try:
        def counted(query: str) -> int:
            return workspace.read(lambda s: count_contacts(s, workspace.actor, parse(query)))

        active, archived = counted(""), counted("status:archived")
    finally:
        workspace.close()
    assert active > 4000

    app = CrmApp(db_target=str(big_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start(app, pilot, ui)
        seen: list[tuple[int, int, bool]] = []
        shown = screen._bulk_progress

        def recording(done: int, total: int) -> None:
            shown(done, total)
            panel = screen.query_one("#bulk-progress")
            seen.append((done, total, panel.has_class("-running")))

        screen._bulk_progress = recording  # type: ignore[method-assign]
        await pilot.press("asterisk", "b", "r")
        await ui.settle(app, pilot)
        assert f"Archive {plural(active, 'contact')}?" in ui.text(app)
        await pilot.press("y")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert not screen.query_one("#bulk-progress").has_class("-running")
        assert "0 contacts" in ui.text(app)

    assert seen and seen[-1][0] == seen[-1][1] == active
    assert any(0 < done < total for done, total, _ in seen)  # it moved in steps
    assert all(running for _, _, running in seen)  # the bar was up all the while
    dones = [done for done, _, _ in seen]
    assert dones == sorted(dones)
    workspace = open_workspace(big_db, "tester")
    try:
        assert workspace.read(lambda s: count_contacts(s, workspace.actor, parse(""))) == 0
        assert workspace.read(
            lambda s: count_contacts(s, workspace.actor, parse("status:archived"))) == archived + active
    finally:
        workspace.close()


async def test_a_refused_bulk_action_changes_nothing(demo_db, read_db, ui):
    """Every status marked, all to customer: archived ones cannot (restore them first), so the
    service refuses the whole action and nothing is written."""
    customers = count(read_db, "status:customer")
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start(app, pilot, ui)
        await pilot.press("h", "asterisk", "b", "s")
        await ui.settle(app, pilot)
        assert app.screen.query_one("#field-status", Select).value == "customer"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert screen.marks.count  # kept, to try something else
        messages = [str(n.message) for n in app._notifications]
        assert any("restore it first" in m and "nothing was changed" in m for m in messages), messages
    assert count(read_db, "status:customer") == customers


async def test_bulk_edit_in_the_editor_previews_then_saves(demo_db, read_db, ui, monkeypatch):
    """The marked contacts as a table in $EDITOR (here a function standing in for it): a changed
    cell is previewed with its old and new value and saved; a bad one is refused, nothing saved."""
    import crm_tui.widgets.editor
    from crm_tui.screens.modals.bulk_actions import BulkEditPreview
    from crm_tui.services.contacts import get_contact

    first, second = rows(read_db, limit=2)
    edits: list[str] = []

    def editor(app, text: str, suffix: str = ".txt") -> str:
        """First a new city and a bad address; then (the edits kept) the address put back."""
        assert suffix == ".tsv"
        edits.append(text)
        lines = [line.split("\t") for line in text.splitlines()]
        header = next(cells for cells in lines if cells[0] == "id")
        city, email = header.index("city"), header.index("email")
        for cells in lines:
            if cells[0] == str(first.id):
                cells[city] = "Bad Berleburg"
            if cells[0] == str(second.id):
                cells[email] = "nope" if len(edits) == 1 else second.email
        return "\n".join("\t".join(cells) for cells in lines) + "\n"

    monkeypatch.setattr(crm_tui.widgets.editor, "edit_text", editor)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("space", "space", "b", "e")
        await ui.settle(app, pilot)
        preview = app.screen
        assert isinstance(preview, BulkEditPreview) and not preview.plan.ok
        assert "Not saved" in ui.text(app) and "nope" in ui.text(app)
        await pilot.press("ctrl+o")  # edit again
        await ui.settle(app, pilot)
        preview = app.screen
        assert isinstance(preview, BulkEditPreview) and preview.plan.ok
        text = ui.text(app)
        assert "Save 1 change to 1 contact?" in text and "Bad Berleburg" in text
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
    assert "nope" in edits[1]  # "edit again" kept the first edits
    assert read_db(lambda s, a: get_contact(s, a, first.id)).city == "Bad Berleburg"
    assert read_db(lambda s, a: get_contact(s, a, second.id)).email == second.email
