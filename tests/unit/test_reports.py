"""The reports against numbers worked out by hand, on SQLite and PostgreSQL.

Now is 2026-11-23 10:00 in Berlin (09:00 UTC); tester's zone is Europe/Berlin, so today is
2026-11-23, "last month" is October 2026 and "this quarter" is 2026-10-01 .. 2026-12-31. Two
closings sit half an hour after midnight in Berlin on the first of a month (the evening before
in UTC): they count in the Berlin month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from crm_tui.models import (
    Activity,
    ActivityType,
    Contact,
    HistoryEntry,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    Team,
)
from crm_tui.services.errors import ValidationError
from crm_tui.services.reports import (
    Period,
    ReportQuery,
    named_period,
    parse_period,
    run_report,
)

NOW = "2026-11-23T10:00:00+01:00"
D = Decimal


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def sales(db, people, frozen_now):
    frozen_now(NOW)
    with db.write() as s:
        users = {login: people[login].id for login in ("tester", "anna", "ben")}
        sales = Pipeline(name="Sales", position=0)
        other = Pipeline(name="Other", position=1)
        s.add_all([sales, other])
        s.flush()
        st = {
            "A": Stage(pipeline_id=sales.id, name="A", position=0, probability=10, duration_days=7),
            "B": Stage(pipeline_id=sales.id, name="B", position=1, probability=50, duration_days=0),
            "W": Stage(pipeline_id=sales.id, name="Won", position=2, probability=100, is_won=True),
            "L": Stage(pipeline_id=sales.id, name="Lost", position=3, probability=0, is_lost=True),
            "X": Stage(pipeline_id=other.id, name="X", position=0, probability=20, duration_days=1),
        }
        s.add_all(st.values())
        expensive, budget = LostReason(name="Too expensive"), LostReason(name="No budget")
        s.add_all([expensive, budget])
        customer = Contact(name="Alpha", company="Alpha GmbH", status="customer")
        s.add(customer)
        s.flush()

        def opp(key, title, owner, revenue, probability, *, close=None, entered=None,
                status="open", closed=None, reason=None):
            stage = st[key]
            o = Opportunity(
                title=title, contact_id=customer.id, pipeline_id=stage.pipeline_id,
                stage_id=stage.id, expected_revenue=D(revenue), probability=probability,
                owner_id=users.get(owner), expected_close=close,
                stage_entered_at=entered or utc(2026, 1, 1),
                status=status, closed_at=closed, lost_reason_id=reason.id if reason else None,
            )
            s.add(o)
            s.flush()
            return o

        o1 = opp("A", "o1", "anna", "1000.10", 10, close=date(2026, 12, 15), entered=utc(2026, 11, 1))
        opp("A", "o2", "ben", "2000.20", 10, close=date(2026, 11, 30), entered=utc(2026, 11, 20, 9))
        o3 = opp("B", "o3", "anna", "500.00", 50, entered=utc(2026, 11, 13, 9))
        opp("X", "o4", None, "10000.00", 20, close=date(2027, 1, 10), entered=utc(2026, 11, 21, 9))
        o5 = opp("W", "o5", "anna", "700.00", 100, status="won", closed=utc(2026, 11, 2, 12))
        # 00:30 on 1 November in Berlin
        opp("W", "o6", "ben", "300.00", 100, status="won", closed=utc(2026, 10, 31, 23, 30))
        opp("L", "o7", "ben", "50.00", 0, status="lost", closed=utc(2026, 10, 15, 10), reason=expensive)
        opp("L", "o8", "anna", "150.00", 0, status="lost", closed=utc(2026, 10, 20, 10), reason=expensive)
        # lost, left in an ordinary stage of the other pipeline; 00:30 on 1 October in Berlin
        opp("X", "o9", "anna", "1000.00", 0, status="lost", closed=utc(2026, 9, 30, 22, 30), reason=budget)
        opp("W", "o10", "anna", "2000.00", 100, status="won", closed=utc(2025, 11, 15, 10))

        def stage_row(o, at, old, new, action="stage"):
            s.add(HistoryEntry(at=at, opportunity_id=o.id, contact_id=customer.id, action=action,
                               field="stage", old_value=old or "", new_value=new))

        stage_row(o3, utc(2026, 11, 3, 9), None, "A", action="create")
        s.add(HistoryEntry(at=utc(2026, 11, 5, 9), opportunity_id=o3.id, action="change",
                           field="probability", old_value="10", new_value="15"))
        stage_row(o3, utc(2026, 11, 13, 9), "A", "B")
        stage_row(o5, utc(2026, 10, 1, 9), None, "A", action="create")
        stage_row(o5, utc(2026, 10, 11, 9), "A", "B")
        stage_row(o5, utc(2026, 11, 2, 12), "B", "Won")
        stage_row(o1, utc(2026, 11, 1), None, "A", action="create")

        def closed_contact(name, reason, revenue, at, status="closed"):
            c = Contact(name=name, status=status, lost_reason_id=reason.id if status == "closed" else None,
                        expected_revenue=D(revenue) if revenue else None)
            s.add(c)
            s.flush()
            s.add(HistoryEntry(at=at, contact_id=c.id, action="status", field="status",
                               old_value="prospect", new_value="closed"))
            return c

        closed_contact("Gamma", budget, "5000.00", utc(2026, 10, 10, 8))
        closed_contact("Delta", expensive, None, utc(2026, 11, 5, 8))
        closed_contact("Epsilon", budget, "1000.00", utc(2026, 10, 20, 8), status="prospect")  # restored

        call = ActivityType(name="Call", category="call")
        meeting = ActivityType(name="Meeting", category="meeting")
        s.add_all([call, meeting])
        nord = s.exec(select(Team).where(Team.name == "Nord")).one()
        s.flush()

        def act(kind, due, user=None, status="planned", done_at=None, paused=False, team=None):
            s.add(Activity(type_id=kind.id, contact_id=customer.id, due_date=due, status=status,
                           assigned_user_id=users.get(user), assigned_team_id=team,
                           done_at=done_at, paused=paused))

        act(call, date(2026, 11, 20), "anna")  # 3 days overdue
        act(call, date(2026, 11, 13), "anna")  # 10 days overdue
        act(meeting, date(2026, 11, 25), "anna")
        act(call, date(2026, 11, 10), "anna", status="done", done_at=utc(2026, 11, 10, 10))
        act(call, date(2026, 11, 1), "anna", paused=True)  # paused: neither open nor overdue
        act(meeting, date(2026, 11, 22), "ben")  # 1 day overdue
        act(call, date(2026, 10, 5), "ben", status="done", done_at=utc(2026, 10, 5, 10))
        act(call, date(2026, 10, 6), "ben", status="cancelled")
        act(call, date(2026, 11, 23), team=nord.id)  # today: open, not overdue
    return {"db": db, "actor": people["tester"]}


def report(sales, name, **filters):
    with sales["db"].read() as s:
        return run_report(s, sales["actor"], ReportQuery(name, **filters))


def lines(items, *fields):
    return [tuple(getattr(item, f) for f in ("key", *fields)) for item in items]


# -- periods ---------------------------------------------------------------------------------


def test_named_periods_and_dates():
    today = date(2026, 11, 23)
    assert named_period("this-quarter", today) == Period(date(2026, 10, 1), date(2026, 12, 31))
    assert named_period("last-month", today) == Period(date(2026, 10, 1), date(2026, 10, 31))
    assert named_period("last-quarter", today) == Period(date(2026, 7, 1), date(2026, 9, 30))
    assert named_period("next-quarter", today) == Period(date(2027, 1, 1), date(2027, 3, 31))
    assert named_period("this-year", today) == Period(date(2026, 1, 1), date(2026, 12, 31))
    assert parse_period("2026-10-01", "31.10.2026", today) == Period(date(2026, 10, 1), date(2026, 10, 31))
    with pytest.raises(ValidationError) as error:
        parse_period("2026-10-02", "2026-10-01", today)
    assert error.value.field == "to"
    with pytest.raises(ValidationError) as error:
        named_period("some-day", today)
    assert error.value.field == "period"


# -- forecast --------------------------------------------------------------------------------


def test_forecast_by_stage_owner_and_month(sales):
    result = report(sales, "forecast")
    assert [(s.pipeline, s.key, s.probability, s.count, s.expected_revenue, s.weighted_revenue)
            for s in result.stages] == [
        ("Sales", "A", 10, 2, D("3000.30"), D("300.03")),
        ("Sales", "B", 50, 1, D("500.00"), D("250.00")),
        ("Other", "X", 20, 1, D("10000.00"), D("2000.00")),
    ]
    assert lines(result.owners, "count", "expected_revenue", "weighted_revenue") == [
        ("everybody", 1, D("10000.00"), D("2000.00")),
        ("anna", 2, D("1500.10"), D("350.01")),
        ("ben", 1, D("2000.20"), D("200.02")),
    ]
    assert lines(result.months, "count", "expected_revenue", "weighted_revenue") == [
        ("2026-11", 1, D("2000.20"), D("200.02")),
        ("2026-12", 1, D("1000.10"), D("100.01")),
        ("2027-01", 1, D("10000.00"), D("2000.00")),
        ("no date", 1, D("500.00"), D("250.00")),
    ]
    assert (result.total.count, result.total.expected_revenue, result.total.weighted_revenue) == (
        4, D("13500.30"), D("2550.03"))


def test_forecast_this_quarter_for_one_owner_and_pipeline(sales):
    quarter = named_period("this-quarter", date(2026, 11, 23))
    result = report(sales, "forecast", period=quarter, owner="anna")
    assert result.owner == "anna"
    assert (result.total.count, result.total.expected_revenue, result.total.weighted_revenue) == (
        1, D("1000.10"), D("100.01"))
    result = report(sales, "forecast", pipeline="sales")
    assert result.pipeline == "Sales"
    assert [s.key for s in result.stages] == ["A", "B"]
    assert (result.total.count, result.total.weighted_revenue) == (3, D("550.03"))
    with pytest.raises(ValidationError) as error:
        report(sales, "forecast", owner="nobody")
    assert error.value.field == "owner"


# -- won / lost ------------------------------------------------------------------------------


def test_won_lost_per_month_in_the_users_zone(sales):
    result = report(sales, "won-lost")
    assert result.period == Period(date(2025, 12, 1), date(2026, 11, 30))
    assert len(result.months) == 12 and result.months[0].month == "2025-12"
    by_month = {m.month: (m.won, m.won_revenue, m.lost, m.lost_revenue) for m in result.months}
    assert by_month["2026-11"] == (2, D("1000.00"), 0, D("0.00"))
    assert by_month["2026-10"] == (0, D("0.00"), 3, D("1200.00"))
    assert by_month["2026-09"] == (0, D("0.00"), 0, D("0.00"))
    assert (result.won, result.won_revenue, result.lost, result.lost_revenue, result.win_rate) == (
        2, D("1000.00"), 3, D("1200.00"), 40)
    sales_only = report(sales, "won-lost", pipeline="Sales")
    assert (sales_only.lost, sales_only.lost_revenue, sales_only.win_rate) == (2, D("200.00"), 50)
    year = report(sales, "won-lost", period=Period(date(2025, 11, 1), date(2025, 11, 30)))
    assert [(m.month, m.won, m.won_revenue) for m in year.months] == [("2025-11", 1, D("2000.00"))]


# -- lost reasons ----------------------------------------------------------------------------


def test_lost_and_close_reasons_last_month(sales):
    result = report(sales, "lost-reasons", period=named_period("last-month", date(2026, 11, 23)))
    assert [(r.reason, r.count, r.revenue, r.share) for r in result.opportunities] == [
        ("Too expensive", 2, D("200.00"), 67),
        ("No budget", 1, D("1000.00"), 33),
    ]
    assert (result.opportunities_count, result.opportunities_revenue) == (3, D("1200.00"))
    assert [(r.reason, r.count, r.revenue, r.share) for r in result.contacts] == [
        ("No budget", 1, D("5000.00"), 100),
    ]


def test_lost_and_close_reasons_all_time(sales):
    result = report(sales, "lost-reasons")
    assert [(r.reason, r.count) for r in result.opportunities] == [("Too expensive", 2), ("No budget", 1)]
    # the restored contact is no longer closed: not counted
    assert [(r.reason, r.count, r.revenue) for r in result.contacts] == [
        ("No budget", 1, D("5000.00")), ("Too expensive", 1, D("0.00")),
    ]
    assert (result.contacts_count, result.contacts_revenue) == (2, D("5000.00"))


# -- activities ------------------------------------------------------------------------------


def test_activity_statistics_per_rep_and_type(sales):
    result = report(sales, "activities")
    assert result.today == date(2026, 11, 23)
    assert lines(result.reps, "done", "open", "overdue", "average_days_overdue") == [
        ("anna", 1, 3, 2, D("6.5")),
        ("ben", 1, 1, 1, D("1.0")),
        ("team:Nord", 0, 1, 0, None),
    ]
    anna, ben = result.reps[0], result.reps[1]
    assert lines(anna.by_type, "done", "open", "overdue", "average_days_overdue") == [
        ("Call", 1, 2, 2, D("6.5")), ("Meeting", 0, 1, 0, None),
    ]
    assert lines(ben.by_type, "done", "open", "overdue", "average_days_overdue") == [
        ("Call", 1, 0, 0, None), ("Meeting", 0, 1, 1, D("1.0")),
    ]
    total = result.total
    assert (total.done, total.open, total.overdue, total.average_days_overdue) == (2, 5, 3, D("4.7"))


def test_activity_statistics_count_done_in_the_period_only(sales):
    result = report(sales, "activities", period=named_period("this-month", date(2026, 11, 23)))
    assert lines(result.reps, "done", "open", "overdue") == [
        ("anna", 1, 3, 2), ("ben", 0, 1, 1), ("team:Nord", 0, 1, 0),
    ]
    mine = report(sales, "activities", owner="ben")
    assert [rep.key for rep in mine.reps] == ["ben"]


# -- stages ----------------------------------------------------------------------------------


def test_stage_durations_and_rotting(sales):
    result = report(sales, "stages")
    got = [(s.pipeline, s.stage, s.open, s.open_average_days, s.rotting, s.rotting_revenue, s.stays,
            s.stay_average_days, s.average_days) for s in result.stages]
    assert got == [
        # A: open 22.375 and 3 days; stays of 10 days (o3) and 10 days (o5)
        ("Sales", "A", 2, D("12.7"), 1, D("1000.10"), 2, D("10.0"), D("11.3")),
        # B: open 10 days; o5 stayed 22 days 3 hours
        ("Sales", "B", 1, D("10.0"), 0, D("0.00"), 1, D("22.1"), D("16.1")),
        ("Sales", "Won", 0, None, 0, D("0.00"), 0, None, None),
        ("Sales", "Lost", 0, None, 0, D("0.00"), 0, None, None),
        ("Other", "X", 1, D("2.0"), 1, D("10000.00"), 0, None, D("2.0")),
    ]
    assert (result.rotting, result.rotting_revenue) == (2, D("11000.10"))


def test_stage_stays_that_ended_in_the_period(sales):
    result = report(sales, "stages", pipeline="Sales", period=Period(date(2026, 11, 1), None))
    assert [(s.stage, s.stays) for s in result.stages] == [("A", 1), ("B", 1), ("Won", 0), ("Lost", 0)]


def test_unknown_report_is_refused(sales):
    with pytest.raises(ValidationError) as error:
        report(sales, "weather")
    assert error.value.field == "report"
