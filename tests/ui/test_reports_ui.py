"""The Reports screen (F7) on the 300-contact demo database at 80x24: the two questions on the
overview, each report by its number key, the period and mine/all keys; numbers from the services."""

from __future__ import annotations

from datetime import date

from crm_tui.app import CrmApp
from crm_tui.screens.reports import ReportsScreen
from crm_tui.widgets.format import money

SIZE = (80, 24)
TODAY = date(2026, 11, 23)


def run(read_db, name, **filters):
    from crm_tui.services.reports import ReportQuery, run_report

    return read_db(lambda s, a: run_report(s, a, ReportQuery(name, **filters)))


def body(app, ui) -> str:
    return ui.static_text(app.screen.query_one("#reports-body"), width=78)


async def test_overview_answers_the_two_questions(demo_db, read_db, ui):
    from crm_tui.services.reports import named_period

    quarter = named_period("this-quarter", TODAY)
    mine = run(read_db, "forecast", period=quarter, owner="@me")
    reasons = run(read_db, "lost-reasons", period=named_period("last-month", TODAY))
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("f7")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ReportsScreen)
        text = ui.text(app)
        assert "F7 Reports" in text and "F2 Contacts" in text
        assert "1 Overview" in text and "6 Stages" in text
        shown = body(app, ui)
        assert "What will I close this quarter?" in shown
        assert f"{mine.total.count} open, weighted {money(mine.total.weighted_revenue, 'EUR')}" in shown
        assert "Why did we lose last month?" in shown
        if reasons.opportunities:
            top = reasons.opportunities[0]
            assert f"mostly {top.reason!r}: {top.count} of {reasons.opportunities_count} lost" in shown
        else:
            assert "nothing was lost" in shown


async def test_each_report_by_its_key(demo_db, read_db, ui):
    from crm_tui.services.reports import Period, named_period

    won_lost = run(read_db, "won-lost")
    stages = run(read_db, "stages")
    activities = run(read_db, "activities", period=named_period("this-month", TODAY))
    everything = run(read_db, "forecast", period=Period())
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("f7")
        await ui.settle(app, pilot)

        await pilot.press("3")
        await ui.settle(app, pilot)
        shown = body(app, ui)
        assert "Won and lost" in shown and won_lost.months[-1].month in shown
        assert "bars: █ won ░ lost" in shown  # told apart without colour
        assert "period: last 12 months" in ui.text(app)

        await pilot.press("5")
        await ui.settle(app, pilot)
        shown = body(app, ui)
        assert "Activities" in shown
        first = activities.reps[0]
        assert any(line.split()[:4] == [first.key, str(first.done), str(first.open), str(first.overdue)]
                   for line in shown.splitlines())

        await pilot.press("6")
        await ui.settle(app, pilot)
        assert f"rotting: {stages.rotting} open opportunities" in body(app, ui)

        await pilot.press("2")
        await ui.settle(app, pilot)
        assert "period: this-quarter" in ui.text(app)
        await pilot.press("p")  # this-quarter -> last-quarter ... the cycle starts at "all time"
        await ui.settle(app, pilot)
        assert "period: last-quarter" in ui.text(app)
        for _ in range(4):  # next-quarter, this-year, last-year, all time
            await pilot.press("p")
        await ui.settle(app, pilot)
        assert "period: all time" in ui.text(app)
        total = everything.total
        assert f"{total.count}" in body(app, ui) and money(total.weighted_revenue) in body(app, ui)
        await pilot.press("m")
        await ui.settle(app, pilot)
        assert "mine" in ui.text(app) and "owner tester" in body(app, ui)
