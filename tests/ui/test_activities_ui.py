"""My activities at 80x24 over the demo database (CRM_NOW frozen): "done & plan next" end to
end, triage keys (count prefix, pause, repeat, multi-select, overdue to today), and the screen
agreeing with `crm activities list --mine --json`.

Expectations come from the services on the same database.
"""

from __future__ import annotations

import json
from datetime import timedelta

from crm_tui.app import CrmApp
from crm_tui.screens.activities import PAUSED_STYLE, ActivitiesScreen
from crm_tui.screens.contact_card import ContactCardScreen
from crm_tui.screens.modals.activity_form import ActivityForm
from crm_tui.screens.modals.done_form import CancelForm, DoneForm
from crm_tui.screens.modals.reschedule import RescheduleForm
from crm_tui.widgets.virtual_table import VirtualTable

SIZE = (80, 24)


def agenda(read_db, **kwargs):
    from crm_tui.services.agenda import my_activities

    return read_db(lambda s, a: my_activities(s, a, 0, 200, **kwargs))


def activity(read_db, activity_id: int):
    from crm_tui.services.activities import rows_by_ids

    return read_db(lambda s, a: rows_by_ids(s, a, [activity_id]))[0]


def followers(read_db, activity_id: int):
    """Activities planned as the follow-up of `activity_id` (previous_id)."""
    from crm_tui.services.activities import list_activities

    rows = read_db(lambda s, a: list_activities(s, a, status="all", limit=100_000))
    return [r for r in rows if r.previous_id == activity_id]


def type_id(read_db, name: str) -> int:
    from crm_tui.services.activity_types import get_type

    return read_db(lambda s, a: get_type(s, name)).id


async def open_activities(app, pilot, ui) -> VirtualTable:
    await ui.settle(app, pilot)
    await pilot.press("f4")
    await ui.settle(app, pilot)
    assert isinstance(app.screen, ActivitiesScreen)
    return app.screen.query_one("#activities-table", VirtualTable)


async def filter_type(app, pilot, ui, name: str) -> None:
    """`y` until the type filter shows `name`."""
    for _ in range(10):
        screen = app.screen
        if screen.type_filter is not None and screen.type_filter.name == name:
            return
        await pilot.press("y")
        await ui.settle(app, pilot)
    raise AssertionError(f"no type filter {name}")


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_done_and_plan_next_for_a_suggest_type(demo_db, read_db, ui):
    call = agenda(read_db, type_id=type_id(read_db, "Anruf"))[0]
    meeting_id = type_id(read_db, "Meeting")
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        table = await open_activities(app, pilot, ui)
        await filter_type(app, pilot, ui, "Anruf")
        assert table.current_row.id == call.id
        assert "type: Anruf" in ui.text(app)

        await pilot.press("D")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ActivityForm)
        # pre-filled from the chaining: type Meeting, due = the call's deadline + 3 days
        assert form.query_one("#field-type").value == meeting_id
        assert form.query_one("#field-due").value == (call.due + timedelta(days=3)).isoformat()
        assert form.query_one("#field-summary").value == "Termin"
        text = ui.text(app)
        assert "Done & plan next" in text and "Anruf: " + call.summary in text
        assert form.query_one("#field-feedback").has_focus

        await pilot.press(*"reached him", "enter")  # a handful of keys: D, feedback, enter
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)
        assert any("planned next" in m for m in messages(app))

        done = activity(read_db, call.id)
        assert done.status == "done" and done.feedback == "reached him"
        [meeting] = followers(read_db, call.id)
        assert meeting.type == "Meeting" and meeting.status == "planned"
        assert meeting.due == call.due + timedelta(days=3)
        assert meeting.contact_id == call.contact_id

        # the new meeting is in the list (filtered to meetings now)
        await filter_type(app, pilot, ui, "Meeting")
        shown = [table.row_at(i) for i in range(min(table.row_count, 60))]
        assert meeting.id in [row.id for row in shown if row is not None]


async def test_done_and_plan_next_for_a_trigger_type(demo_db, read_db, ui):
    meeting = agenda(read_db, type_id=type_id(read_db, "Meeting"))[0]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        table = await open_activities(app, pilot, ui)
        await filter_type(app, pilot, ui, "Meeting")
        assert table.current_row.id == meeting.id
        await pilot.press("n")  # the second key of "done & plan next"
        await ui.settle(app, pilot)
        assert isinstance(app.screen, DoneForm)
        assert "plans the next activity at once" in ui.text(app)
        await pilot.press(*"went well", "enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)

        [follow_up] = followers(read_db, meeting.id)
        today = app.workspace.actor.today()
        # Meeting → trigger → Nachfass-E-Mail, 1 week after the completion date
        assert follow_up.type == "Nachfass-E-Mail" and follow_up.due == today + timedelta(weeks=1)
        note = f"planned next: Nachfass-E-Mail on {follow_up.due.isoformat()} (#{follow_up.id})"
        assert any(note in m for m in messages(app))
        assert activity(read_db, meeting.id).status == "done"


async def test_count_prefix_reschedules_by_that_many_days(demo_db, read_db, ui):
    first = agenda(read_db)[0]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_activities(app, pilot, ui)
        assert table.current_row.id == first.id
        await pilot.press("3")
        assert "3…" in ui.text(app)  # the pending count is shown
        await pilot.press("r")
        await ui.settle(app, pilot)
        assert activity(read_db, first.id).due == first.due + timedelta(days=3)
        assert "3…" not in ui.text(app)
        # a plain r is one day; the cursor stays where it was
        row = table.current_row
        await pilot.press("r")
        await ui.settle(app, pilot)
        assert activity(read_db, row.id).due == row.due + timedelta(days=1)
        assert table.cursor_row == 0


async def test_pause_greys_the_row_and_dot_repeats_on_the_next(demo_db, read_db, ui):
    rows = agenda(read_db)
    index = next(i for i in range(len(rows) - 2)
                 if not rows[i].paused and not rows[i + 1].paused)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_activities(app, pilot, ui)
        screen = app.screen
        for _ in range(index):
            await pilot.press("down")
        await ui.settle(app, pilot)
        row = table.current_row
        assert row.id == rows[index].id and screen._row_style(row) != PAUSED_STYLE

        await pilot.press("p")
        await ui.settle(app, pilot)
        assert activity(read_db, row.id).paused
        paused = table.row_at(index)
        assert paused.id == row.id and paused.paused
        assert screen._row_style(paused) == PAUSED_STYLE  # the state colour is gone
        line = ui.text(app).splitlines()[3 + index]
        assert "⏸" in line and "●" not in line

        await pilot.press("full_stop")  # the same action on the next row
        await ui.settle(app, pilot)
        assert activity(read_db, rows[index + 1].id).paused
        assert table.cursor_row == index + 1

        await pilot.press("p")  # p again resumes
        await ui.settle(app, pilot)
        assert not activity(read_db, rows[index + 1].id).paused


async def test_dot_repeats_a_reschedule_on_the_row_that_took_its_place(demo_db, read_db, ui):
    first, second = agenda(read_db)[:2]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_activities(app, pilot, ui)
        await pilot.press("5", "r")  # moves the first row far down the list
        await ui.settle(app, pilot)
        assert table.current_row.id == second.id
        await pilot.press("full_stop")
        await ui.settle(app, pilot)
        assert activity(read_db, first.id).due == first.due + timedelta(days=5)
        assert activity(read_db, second.id).due == second.due + timedelta(days=5)


async def test_multi_select_reschedule_and_pause(demo_db, read_db, ui):
    rows = agenda(read_db)[:3]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_activities(app, pilot, ui)
        await pilot.press("space", "space")
        assert "2 selected" in ui.text(app)
        await pilot.press("R")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, RescheduleForm)
        assert "Reschedule 2 activities" in ui.text(app)
        await pilot.press(*"+2d", "enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)
        for row in rows[:2]:
            assert activity(read_db, row.id).due == row.due + timedelta(days=2)
        assert activity(read_db, rows[2].id).due == rows[2].due
        assert "2 activities rescheduled +2d" in messages(app)
        assert "selected" not in ui.text(app)  # the selection is done with

        # a date for several: the prompt refuses a bad one next to the field
        await pilot.press("home", "space", "space", "R", *"31.02.", "enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, RescheduleForm)
        assert app.screen.query_one("#error-when").has_class("-shown")
        await pilot.press(*"1.12.", "enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)
        moved = [r for r in agenda(read_db) if r.due.isoformat() == "2026-12-01"]
        assert len(moved) >= 2

        # select all, then pause them all; escape clears a selection
        await pilot.press("ctrl+a")
        await ui.settle(app, pilot)
        count = len(agenda(read_db))
        assert f"{count} selected" in ui.text(app)
        await pilot.press("escape")
        assert "selected" not in ui.text(app)


async def test_cancel_asks_first_and_enter_opens_the_contact(demo_db, read_db, ui):
    first, second = agenda(read_db)[:2]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_activities(app, pilot, ui)
        await pilot.press("x")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, CancelForm)
        await pilot.press("escape")  # kept
        await ui.settle(app, pilot)
        assert activity(read_db, first.id).status == "planned"
        await pilot.press("x", *"duplicate", "enter")
        await ui.settle(app, pilot)
        assert activity(read_db, first.id).status == "cancelled"
        assert table.current_row.id == second.id  # the next row took its place

        await pilot.press("enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactCardScreen)
        assert app.screen.contact_id == second.contact_id
        await pilot.press("escape")
        await pilot.press("c")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactCardScreen)


async def test_move_all_my_overdue_to_today_from_the_palette(demo_db, read_db, ui):
    from crm_tui.commands.status import format_counts
    from crm_tui.services.activities import open_counts

    overdue = [r for r in agenda(read_db, state="overdue") if not r.paused]
    assert overdue
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_activities(app, pilot, ui)
        await pilot.press("ctrl+p", *"overdue to today")
        await ui.settle(app, pilot)
        await pilot.press("enter")
        await ui.settle(app, pilot)
        assert [r for r in agenda(read_db, state="overdue") if not r.paused] == []
        assert f"{len(overdue)} overdue activities moved to today" in messages(app)
        counts = read_db(lambda s, a: open_counts(s, a))
        assert counts["overdue"] == 0
        assert app.status_counts == format_counts(counts)


async def test_views_filters_and_scopes(demo_db, read_db, ui):
    from crm_tui.services.agenda import my_activities_total

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_activities(app, pilot, ui)
        header = ui.text(app).splitlines()[2]
        assert "Contact" in header and "Deadline" in header and "Revenue" in header
        await pilot.press("v")
        await pilot.pause()
        header = ui.text(app).splitlines()[2]
        assert "Due" in header and "Time" in header and "Summary" in header
        await pilot.press("s")
        await ui.settle(app, pilot)
        overdue = agenda(read_db, state="overdue")
        assert table.row_count == len(overdue)
        assert "state: overdue" in ui.text(app)
        await pilot.press("m")  # tester is an admin: mine → team → anyone
        await ui.settle(app, pilot)
        assert "My teams' activities" in ui.text(app)
        await pilot.press("m")
        await ui.settle(app, pilot)
        assert "Anyone's activities" in ui.text(app)
        total = read_db(lambda s, a: my_activities_total(s, a, "all", "overdue"))[0]
        assert table.row_count == total > len(overdue)


async def test_cli_and_screen_agree_at_a_frozen_now(demo_db, ui, capsys):
    from crm_tui.cli import main

    capsys.readouterr()
    assert main(["--db", str(demo_db), "activities", "list", "--mine", "--json", "--limit", "60"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        table = await open_activities(app, pilot, ui)
        shown = [table.row_at(i) for i in range(min(table.row_count, 60))]
        assert table.row_count >= len(listed)
        assert [(r.id, r.due.isoformat(), r.state, r.paused) for r in shown] == [
            (a["id"], a["due"], a["state"], a["paused"]) for a in listed
        ]


async def test_done_on_a_suggest_type_proposes_the_next_which_escape_skips(demo_db, read_db, ui):
    call = agenda(read_db, type_id=type_id(read_db, "Anruf"))[0]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await open_activities(app, pilot, ui)
        await filter_type(app, pilot, ui, "Anruf")
        await pilot.press("d", *"left a message", "enter")
        await ui.settle(app, pilot)
        assert activity(read_db, call.id).status == "done"  # saved before the proposal
        form = app.screen
        assert isinstance(form, ActivityForm) and form.draft is not None
        assert form.query_one("#field-due").value == (call.due + timedelta(days=3)).isoformat()
        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ActivitiesScreen)
        assert followers(read_db, call.id) == []
