"""The activity form (plan, log, done & plan next), the contact picker and the done form with a
file, at 80x24 over the demo database (CRM_NOW frozen)."""

from __future__ import annotations

from datetime import date

from crm_tui.app import CrmApp
from crm_tui.screens.activities import ActivitiesScreen
from crm_tui.screens.modals.activity_form import ActivityForm, ContactPicker
from crm_tui.screens.modals.done_form import DoneForm
from crm_tui.widgets.virtual_table import VirtualTable

SIZE = (80, 24)


def contact_activities(read_db, contact_id: int):
    from crm_tui.services.activities import list_activities

    return read_db(lambda s, a: list_activities(s, a, contact_id=contact_id, status="all",
                                                limit=1000))


def first_row(read_db):
    from crm_tui.services.agenda import my_activities

    return read_db(lambda s, a: my_activities(s, a, 0, 1))[0]


async def start(app, pilot, ui) -> VirtualTable:
    await ui.settle(app, pilot)
    await pilot.press("f4")
    await ui.settle(app, pilot)
    assert isinstance(app.screen, ActivitiesScreen)
    return app.screen.query_one(VirtualTable)


async def test_a_bad_date_is_refused_next_to_the_field_and_nothing_is_written(demo_db, read_db, ui):
    row = first_row(read_db)
    before = contact_activities(read_db, row.contact_id)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("a")  # plan an activity for this row's contact
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ActivityForm)
        assert row.contact in ui.text(app)
        due = form.query_one("#field-due")
        assert due.value == "2026-11-23"  # today by default
        due.focus()
        await pilot.press(*"31.02.2026")
        await pilot.pause()
        assert "?" in ui.static_text(form.query_one("#due-hint"))
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is form
        error = form.query_one("#error-due")
        assert error.has_class("-shown")
        assert "is not a date" in ui.text(app)
        assert contact_activities(read_db, row.contact_id) == before

        # typing replaces the refused text; the hint shows the date it means
        await pilot.press(*"+3d")
        await pilot.pause()
        assert "Thu 26 Nov 2026" in ui.text(app)
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)
        after = contact_activities(read_db, row.contact_id)
        [new] = [a for a in after if a.id not in {b.id for b in before}]
        assert new.due == date(2026, 11, 26) and new.status == "planned"
        assert new.type == "E-Mail" and new.summary == "E-Mail senden"  # the first type's defaults


async def test_choosing_a_type_fills_its_defaults_but_keeps_what_was_typed(demo_db, read_db, ui):
    from crm_tui.services.activity_types import get_type

    call = read_db(lambda s, a: get_type(s, "Anruf"))
    meeting = read_db(lambda s, a: get_type(s, "Meeting"))
    row = first_row(read_db)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("a")
        await ui.settle(app, pilot)
        form = app.screen
        form.query_one("#field-type").value = call.id
        await pilot.pause()
        assert form.query_one("#field-summary").value == call.default_summary
        assert form.query_one("#field-note").value == call.default_note
        assert form.query_one("#field-reminder_minutes").value == "15"
        form.query_one("#field-summary").value = "Ask about the roof"
        form.query_one("#field-type").value = meeting.id
        await pilot.pause()
        assert form.query_one("#field-summary").value == "Ask about the roof"  # typed: kept
        assert form.query_one("#field-reminder_minutes").value == "60"  # a default: replaced
        form.query_one("#field-time").value = "14:30"
        form.query_one("#field-assigned_to").value = "nobody-like-this"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert form.query_one("#error-assigned_to").has_class("-shown")
        form.query_one("#field-assigned_to").value = ""
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)
        new = max(contact_activities(read_db, row.contact_id), key=lambda a: a.id)
        assert (new.type, new.summary, new.time.isoformat(timespec="minutes")) == (
            "Meeting", "Ask about the roof", "14:30")
        assert new.assigned_to == "tester"


async def test_log_saves_as_done_with_feedback(demo_db, read_db, ui):
    row = first_row(read_db)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot, ui)
        await pilot.press("L")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ActivityForm) and "Log activity" in ui.text(app)
        form.query_one("#field-feedback").value = "called back, all fine"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)
        new = max(contact_activities(read_db, row.contact_id), key=lambda a: a.id)
        assert new.status == "done" and new.feedback == "called back, all fine"


async def test_without_a_contact_the_form_asks_for_one_first(demo_db, read_db, ui):
    from crm_tui.services.contacts import list_contacts
    from crm_tui.services.query import parse

    target = read_db(lambda s, a: list_contacts(s, a, parse("city:Olpe"), limit=1))[0]
    results: list[int | None] = []
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        app.push_screen(ActivityForm(app.workspace, contact_id=None, due=date(2026, 12, 3)),
                        results.append)
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactPicker)
        await pilot.press(*"city:Olpe")
        await ui.settle(app, pilot)
        assert target.display_name in ui.text(app)
        await pilot.press("enter")  # the first match
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ActivityForm) and form.contact_id == target.id
        assert target.display_name in ui.text(app)
        assert form.query_one("#field-due").value == "2026-12-03"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert results and results[0] is not None
        [new] = [a for a in contact_activities(read_db, target.id) if a.id == results[0]]
        assert new.due == date(2026, 12, 3)

        # escape in the picker of a form without a contact closes both
        app.push_screen(ActivityForm(app.workspace, contact_id=None), results.append)
        await ui.settle(app, pilot)
        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert results[-1] is None and not isinstance(app.screen, (ActivityForm, ContactPicker))


async def test_completing_an_upload_activity_stores_the_file(demo_db, read_db, ui, tmp_path):
    from crm_tui.services.activities import plan_activity
    from crm_tui.workspace import open_workspace

    row = first_row(read_db)
    workspace = open_workspace(demo_db, "tester")
    try:
        upload_id = workspace.write(lambda s: plan_activity(s, workspace.actor, {
            "type": "Dokument hochladen", "contact_id": row.contact_id, "due": "2026-10-01",
        }).id)
    finally:
        workspace.close()
    document = tmp_path / "offer.pdf"
    document.write_bytes(b"%PDF-1.4 offer")

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        table = await start(app, pilot, ui)
        assert table.current_row.id == upload_id  # the most overdue
        await pilot.press("d")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, DoneForm) and form.query("#field-file")
        form.query_one("#field-file").value = str(tmp_path / "missing.pdf")
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert form.query_one("#error-file").has_class("-shown") and "no such file" in ui.text(app)
        form.query_one("#field-file").value = str(document)
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)

    def attachments(session, actor):
        from sqlmodel import select

        from crm_tui.models import Attachment

        return session.exec(select(Attachment).where(Attachment.activity_id == upload_id)).all()

    [stored] = read_db(attachments)
    assert stored.filename == "offer.pdf" and stored.data == b"%PDF-1.4 offer"


async def test_settings_edit_an_activity_type_with_validation_next_to_the_field(demo_db, read_db, ui):
    from crm_tui.screens.settings_types import ActivityTypeForm, ActivityTypesSettings
    from crm_tui.services.activity_types import get_type

    meeting = read_db(lambda s, a: get_type(s, "Meeting"))
    follow_up = read_db(lambda s, a: get_type(s, "Nachfass-E-Mail"))
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("f6")
        await ui.settle(app, pilot)
        section = app.screen.query_one(ActivityTypesSettings)
        assert [t.name for t in section.types][:3] == ["E-Mail", "Anruf", "Meeting"]
        table = section.query_one("#types-table")
        table.focus()
        table.move_cursor(row=[t.id for t in section.types].index(follow_up.id))
        await pilot.press("enter")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ActivityTypeForm) and form.kind.id == follow_up.id

        # Nachfass-E-Mail → trigger → Meeting, which triggers Nachfass-E-Mail: refused
        form.query_one("#field-chaining").value = "trigger"
        form.query_one("#field-next_type").value = meeting.id
        form.query_one("#field-delay_count").value = "2"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert form.query_one("#error-next_type").has_class("-shown")
        text = ui.text(app)
        assert "Meeting → Nachfass-E-Mail would trigger" in text and "activities forever" in text
        assert read_db(lambda s, a: get_type(s, follow_up.id)).chaining == "none"

        form.query_one("#field-chaining").value = "suggest"
        form.query_one("#field-delay_count").value = "zwei"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert form.query_one("#error-delay_count").has_class("-shown")
        form.query_one("#field-delay_count").value = "2"
        form.query_one("#field-delay_unit").value = "weeks"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert not isinstance(app.screen, ActivityTypeForm)
        saved = read_db(lambda s, a: get_type(s, follow_up.id))
        assert (saved.chaining, saved.next_type, saved.delay_count, saved.delay_unit) == (
            "suggest", "Meeting", 2, "weeks")
        cells = [str(cell) for cell in table.get_row(str(follow_up.id))]
        assert cells[-1] == "suggest → Meeting +2w"  # the table shows the saved chaining
