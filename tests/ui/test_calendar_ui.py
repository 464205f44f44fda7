"""The calendar at 80x24 over the demo database (CRM_NOW frozen: Monday 23 November 2026):
month, week, day and list views, periods, today, opening and planning."""

from __future__ import annotations

from datetime import date

from crm_tui.app import CrmApp
from crm_tui.screens.calendar import CalendarScreen, period
from crm_tui.screens.contact_card import ContactCardScreen
from crm_tui.screens.modals.activity_form import ActivityForm, ContactPicker
from crm_tui.widgets.month_grid import MonthGrid
from crm_tui.widgets.virtual_table import VirtualTable
from crm_tui.widgets.week_grid import WeekGrid

SIZE = (80, 24)
TODAY = date(2026, 11, 23)


def between(read_db, start: date, end: date, scope: str = "mine"):
    from crm_tui.services.agenda import activities_between

    return read_db(lambda s, a: activities_between(s, a, start, end, scope, limit=5000))


def status(app) -> str:
    return app.screen.query_one("#calendar-status").render().plain


async def open_calendar(app, pilot, ui) -> CalendarScreen:
    await ui.settle(app, pilot)
    await pilot.press("f5")
    await ui.settle(app, pilot)
    assert isinstance(app.screen, CalendarScreen)
    return app.screen


def test_periods_of_the_views():
    assert period("month", TODAY) == (date(2026, 10, 26), date(2026, 12, 6))
    assert period("week", TODAY) == (date(2026, 11, 23), date(2026, 11, 29))
    assert period("day", TODAY) == (TODAY, TODAY)
    assert period("list", TODAY) == (date(2026, 11, 1), date(2026, 11, 30))


async def test_month_week_day_list_with_page_down_and_today(demo_db, read_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_calendar(app, pilot, ui)
        today_items = between(read_db, TODAY, TODAY)
        assert "November 2026" in status(app) and "Mon 23 Nov" in status(app)
        assert f"{len(today_items)} activit" in status(app)
        grid = screen.query_one(MonthGrid)
        assert grid.has_focus and grid.selected == TODAY
        start, end = period("month", TODAY)
        open_counts = sum(1 for i in between(read_db, start, end) if i.status == "planned")
        assert sum(o for o, _done in grid.counts.values()) == open_counts

        await pilot.press("pagedown")  # a month on
        await ui.settle(app, pilot)
        assert "December 2026" in status(app) and screen.day == date(2026, 12, 23)

        await pilot.press("v")  # week
        await ui.settle(app, pilot)
        week = screen.query_one(WeekGrid)
        assert screen.view == "week" and week.has_focus
        assert "Week 52: 21 Dec – 27 Dec 2026" in status(app)
        await pilot.press("t")
        await ui.settle(app, pilot)
        assert "Week 48: 23 Nov – 29 Nov 2026" in status(app)
        week_items = between(read_db, date(2026, 11, 23), date(2026, 11, 29))
        assert sum(len(v) for v in week.items.values()) == len(week_items)
        await pilot.press("pagedown")
        await ui.settle(app, pilot)
        assert "Week 49" in status(app) and screen.day == date(2026, 11, 30)
        await pilot.press("right")  # arrows move the day
        await ui.settle(app, pilot)
        assert screen.day == date(2026, 12, 1)

        await pilot.press("v")  # day
        await ui.settle(app, pilot)
        assert "Tuesday 01 December 2026" in status(app)
        table = screen.query_one("#calendar-day", VirtualTable)
        assert table.row_count == len(between(read_db, date(2026, 12, 1), date(2026, 12, 1)))
        await pilot.press("pagedown")
        await ui.settle(app, pilot)
        assert "Wednesday 02 December 2026" in status(app)
        await pilot.press("left")
        await ui.settle(app, pilot)
        assert "Tuesday 01 December 2026" in status(app)

        await pilot.press("v")  # list: the month, paged from the database
        await ui.settle(app, pilot)
        listing = screen.query_one("#calendar-list", VirtualTable)
        assert "December 2026 (list)" in status(app)
        assert listing.row_count == len(between(read_db, date(2026, 12, 1), date(2026, 12, 31)))
        await pilot.press("t")
        await ui.settle(app, pilot)
        november = between(read_db, date(2026, 11, 1), date(2026, 11, 30))
        assert "November 2026 (list)" in status(app) and listing.row_count == len(november)
        # the cursor is on today's first activity
        first_today = next(i for i, item in enumerate(november) if item.due >= TODAY)
        assert listing.cursor_row == first_today and listing.current_row.due == TODAY

        await pilot.press("M")
        await ui.settle(app, pilot)
        assert screen.view == "month" and "November 2026" in status(app)
        for key, view in (("W", "week"), ("D", "day"), ("L", "list")):
            await pilot.press(key)
            await ui.settle(app, pilot)
            assert screen.view == view


async def test_enter_opens_the_contact_of_an_activity(demo_db, read_db, ui):
    first = between(read_db, TODAY, TODAY)[0]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await open_calendar(app, pilot, ui)
        await pilot.press("enter")  # from the grid to the day's list
        table = app.screen.query_one("#calendar-day", VirtualTable)
        assert table.has_focus
        await pilot.press("enter")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactCardScreen)
        assert app.screen.contact_id == first.contact_id
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")  # back to the grid
        assert app.screen.query_one(MonthGrid).has_focus


async def test_a_plans_an_activity_on_the_chosen_day(demo_db, read_db, ui):
    from crm_tui.services.contacts import list_contacts
    from crm_tui.services.query import parse

    target = read_db(lambda s, a: list_contacts(s, a, parse("city:Olpe"), limit=1))[0]
    day = date(2026, 11, 26)
    before = len(between(read_db, day, day))
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_calendar(app, pilot, ui)
        await pilot.press("right", "right", "right", "a")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactPicker)
        await pilot.press(*"city:Olpe")
        await ui.settle(app, pilot)
        await pilot.press("down", "enter")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, ActivityForm) and form.contact_id == target.id
        assert form.query_one("#field-due").value == day.isoformat()
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is screen
        assert len(between(read_db, day, day)) == before + 1
        assert f"{before + 1} activit" in status(app)
        assert screen.query_one(MonthGrid).counts[day][0] >= 1


async def test_whose_calendar(demo_db, read_db, ui):
    from crm_tui.services.users import list_users

    other = next(u for u in read_db(lambda s, a: list_users(s)) if u.login != "tester")
    theirs = between(read_db, TODAY, TODAY, scope=f"user:{other.login}")
    app = CrmApp(db_target=str(demo_db), login="tester", )
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_calendar(app, pilot, ui)
        await pilot.press("u", *other.login, "enter")
        await ui.settle(app, pilot)
        assert f"{other.login}'s activities" in status(app)
        assert screen.query_one("#calendar-day", VirtualTable).row_count == len(theirs)
        await pilot.press("u", *"nobody-at-all", "enter")
        await ui.settle(app, pilot)
        assert any("no user with login 'nobody-at-all'" in n.message for n in app._notifications)
        assert "my activities" in status(app)
