"""In-app reminders (issue 6, item 8): a due reminder becomes one notification per session, and
the navigation bar shows the `crm status` counts. Time is frozen (CRM_NOW 2026-11-23 10:00
Berlin = 09:00 UTC); the tests call the poll instead of waiting for the 30 s timer."""

from __future__ import annotations

from datetime import time

from crm_tui.app import CrmApp

SIZE = (80, 24)


def plan(demo_db, **values) -> int:
    from crm_tui.services.activities import plan_activity
    from crm_tui.services.agenda import my_activities
    from crm_tui.workspace import open_workspace

    workspace = open_workspace(demo_db, "tester")
    try:
        contact_id = workspace.read(lambda s: my_activities(s, workspace.actor, 0, 1))[0].contact_id
        return workspace.write(lambda s: plan_activity(
            s, workspace.actor, {"contact_id": contact_id, **values}).id)
    finally:
        workspace.close()


def reminders(app, summary: str) -> list:
    return [n for n in app._notifications if summary in n.message]


async def test_a_due_reminder_is_shown_once(demo_db, ui):
    # due 09:10 UTC today with a 15-minute reminder: it came due at 08:55, five minutes ago
    plan(demo_db, type="Anruf", due="today", time=time(9, 10), summary="Call about the roof",
         reminder_minutes=15)
    plan(demo_db, type="Anruf", due="today", time=time(9, 40), summary="Not yet due",
         reminder_minutes=15)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ui.settle(app, pilot)  # the first poll runs when the database is open
        [notice] = reminders(app, "Call about the roof")
        assert notice.title == "Reminder: Anruf" and "due 2026-11-23 09:10" in notice.message
        assert reminders(app, "Not yet due") == []

        app.poll_reminders()
        await ui.settle(app, pilot)
        app._notice_since = None  # even when the same reminder is read again
        app.poll_reminders()
        await ui.settle(app, pilot)
        assert len(reminders(app, "Call about the roof")) == 1


async def test_a_rescheduled_reminder_is_shown_again(demo_db, ui, monkeypatch):
    activity_id = plan(demo_db, type="Anruf", due="today", time=time(9, 10),
                       summary="Call about the roof", reminder_minutes=15)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ui.settle(app, pilot)
        assert len(reminders(app, "Call about the roof")) == 1

        from crm_tui.services.activities import reschedule

        workspace = app.workspace
        workspace.write(lambda s: reschedule(s, workspace.actor, [activity_id], by="+1d"))
        # a day later, the new reminder comes due
        monkeypatch.setenv("CRM_NOW", "2026-11-24T10:00:00+01:00")
        app.poll_reminders()
        await ui.settle(app, pilot)
        notices = reminders(app, "Call about the roof")
        assert len(notices) == 2 and "due 2026-11-24 09:10" in notices[1].message


async def test_the_navigation_bar_shows_the_status_counts(demo_db, read_db, ui):
    from crm_tui.commands.status import format_counts
    from crm_tui.services.activities import open_counts

    counts = read_db(lambda s, a: open_counts(s, a))
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=(140, 24)) as pilot:
        await ui.settle(app, pilot)
        assert app.status_counts == format_counts(counts)
        first_line = ui.text(app).splitlines()[0]
        assert format_counts(counts) in first_line and "tester" in first_line
    async with CrmApp(db_target=str(demo_db), login="tester").run_test(size=SIZE) as pilot:
        app = pilot.app
        await ui.settle(app, pilot)
        short = format_counts(counts, short=True)
        assert short and short in ui.text(app).splitlines()[0]  # "6! 4" when the bar is narrow
        # counts that change while the help is on top: the bar keeps its keys
        await pilot.press("question_mark")
        await pilot.pause()
        app.status_counts = ""
        app.poll_reminders()
        await ui.settle(app, pilot)
        await pilot.press("escape")
        await pilot.pause()
        first_line = ui.text(app).splitlines()[0]
        assert "F2 Contacts" in first_line and short in first_line
