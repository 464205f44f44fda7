""""My activities" and the calendar queries on a small hand-made dataset at a frozen "now".

Now is 2026-11-23 10:00 in Berlin; today is 2026-11-23 for tester and mia (Europe/Berlin).
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest
from sqlmodel import select

from crm_tui.models import Activity, ActivityType, Contact, Opportunity, Pipeline, Stage, Team
from crm_tui.services.agenda import (
    DayCount,
    activities_between,
    day_counts,
    my_activities,
    my_activities_total,
)
from crm_tui.services.errors import ValidationError

NOW = "2026-11-23T10:00:00+01:00"


@pytest.fixture
def agenda(db, people, frozen_now):
    frozen_now(NOW)
    tester, anna, ben = people["tester"], people["anna"], people["ben"]
    with db.write() as s:
        call = ActivityType(name="Anruf", category="call")
        meeting = ActivityType(name="Meeting", category="meeting")
        pipeline = Pipeline(name="Sales")
        s.add_all([call, meeting, pipeline])
        s.flush()
        stage = Stage(pipeline_id=pipeline.id, name="Angebot", probability=50)
        alpha = Contact(name="Alpha", first_name="Ann", email="ann@alpha.test", phone="+49 1")
        beta = Contact(name="Beta", mobile="+49 2")
        s.add_all([stage, alpha, beta])
        s.flush()

        def opp(title, revenue):
            o = Opportunity(title=title, contact_id=alpha.id, pipeline_id=pipeline.id,
                            stage_id=stage.id, expected_revenue=Decimal(revenue))
            s.add(o)
            s.flush()
            return o

        o1, o2, o3 = opp("Deal one", "1000.10"), opp("Deal two", "2000.20"), opp("Deal three", "0.05")
        nord = s.exec(select(Team).where(Team.name == "Nord")).one()
        made = {}

        def act(key, due, contact=alpha, opportunity=None, user=tester, team=None, status="planned",
                kind=call, summary="", at=None):
            a = Activity(type_id=kind.id, contact_id=contact.id,
                         opportunity_id=opportunity.id if opportunity else None, due_date=due,
                         due_time=at, assigned_user_id=user.id if user else None,
                         assigned_team_id=team.id if team else None, status=status, summary=summary)
            s.add(a)
            s.flush()
            made[key] = a.id

        act("a1", date(2026, 11, 20), opportunity=o1, summary="Call back")
        act("a2", date(2026, 11, 23), opportunity=o1, kind=meeting, at=time(14, 0))
        act("a3", date(2026, 11, 25), opportunity=o2)
        act("a4", date(2026, 11, 23), contact=beta)
        act("a5", date(2026, 11, 21), status="done")
        act("a6", date(2026, 11, 22), status="cancelled")
        act("a7", date(2027, 6, 1))
        act("b1", date(2026, 11, 24), opportunity=o3, user=anna)
        act("t1", date(2026, 11, 22), user=None, team=nord)
        act("c1", date(2026, 11, 19), user=ben)
    return {"db": db, "people": people, "ids": made}


def ids_of(rows, agenda):
    names = {v: k for k, v in agenda["ids"].items()}
    return [names[r.id] for r in rows]


def test_my_open_activities_most_urgent_first(agenda):
    tester = agenda["people"]["tester"]
    with agenda["db"].read() as s:
        rows = my_activities(s, tester)
    assert ids_of(rows, agenda) == ["a1", "a2", "a4", "a3", "a7"]
    assert [r.deadline for r in rows] == ["3 days ago", "today", "today", "in 2 days", "2027-06-01"]
    assert [r.state for r in rows] == ["overdue", "today", "today", "planned", "planned"]
    first = rows[0]
    assert (first.opportunity, first.contact, first.email, first.phone) == (
        "Deal one", "Alpha, Ann", "ann@alpha.test", "+49 1",
    )
    assert (first.next_activity, first.expected_revenue, first.stage) == (
        "Anruf: Call back", Decimal("1000.10"), "Angebot",
    )
    beta_row = rows[2]
    assert (beta_row.opportunity, beta_row.phone, beta_row.expected_revenue, beta_row.stage) == (
        None, "+49 2", None, None,
    )


def test_total_counts_each_opportunity_once(agenda):
    tester = agenda["people"]["tester"]
    with agenda["db"].read() as s:
        # o1 carries a1 and a2 but counts once: 1000.10 + 2000.20
        assert my_activities_total(s, tester) == (5, Decimal("3000.30"))
        assert my_activities_total(s, tester, state="today") == (2, Decimal("1000.10"))
        assert my_activities_total(s, tester, state="overdue") == (1, Decimal("1000.10"))
        count, revenue = my_activities_total(s, tester, state="planned")
    assert (count, revenue) == (2, Decimal("2000.20")) and isinstance(revenue, Decimal)


def test_windows_and_state_filter(agenda):
    tester = agenda["people"]["tester"]
    with agenda["db"].read() as s:
        assert ids_of(my_activities(s, tester, offset=1, limit=2), agenda) == ["a2", "a4"]
        assert ids_of(my_activities(s, tester, state="today"), agenda) == ["a2", "a4"]
        with pytest.raises(ValidationError):
            my_activities(s, tester, state="none")
        with pytest.raises(ValidationError):
            my_activities(s, tester, scope="nobody")


def test_scopes(agenda):
    people = agenda["people"]
    with agenda["db"].read() as s:
        # mia (Nord) sees anna's activity and the one assigned to team Nord
        assert ids_of(my_activities(s, people["mia"], scope="team"), agenda) == ["t1", "b1"]
        assert my_activities_total(s, people["mia"], scope="team") == (2, Decimal("0.05"))
        assert my_activities(s, people["mia"]) == []
        # tester has no team: team means mine
        assert len(my_activities(s, people["tester"], scope="team")) == 5
        assert ids_of(my_activities(s, people["tester"], scope="all"), agenda) == [
            "c1", "a1", "t1", "a2", "a4", "b1", "a3", "a7",
        ]
        assert my_activities_total(s, people["tester"], scope="all") == (8, Decimal("3000.35"))


def test_calendar_between_and_day_counts(agenda):
    tester = agenda["people"]["tester"]
    start, end = date(2026, 11, 1), date(2026, 11, 30)
    with agenda["db"].read() as s:
        items = activities_between(s, tester, start, end)
        counts = day_counts(s, tester, start, end)
        single = activities_between(s, tester, date(2026, 11, 23), date(2026, 11, 23))
    assert ids_of(items, agenda) == ["a1", "a5", "a2", "a4", "a3"]
    assert [(i.status, i.state) for i in items] == [
        ("planned", "overdue"), ("done", "none"), ("planned", "today"), ("planned", "today"),
        ("planned", "planned"),
    ]
    # a2 has a time and comes before the all-day a4
    assert ids_of(single, agenda) == ["a2", "a4"] and single[0].time == time(14, 0)
    assert counts == {
        date(2026, 11, 20): DayCount(open=1, done=0),
        date(2026, 11, 21): DayCount(open=0, done=1),
        date(2026, 11, 23): DayCount(open=2, done=0),
        date(2026, 11, 25): DayCount(open=1, done=0),
    }


def test_contact_agenda_lists_everybodys_open_activities_of_one_contact(agenda):
    from crm_tui.services.agenda import contact_agenda

    tester = agenda["people"]["tester"]
    with agenda["db"].read() as s:
        alpha = s.exec(select(Contact.id).where(Contact.name == "Alpha")).one()
        rows = contact_agenda(s, tester, alpha)
    # not a5 (done) nor a6 (cancelled); a4 belongs to Beta; b1, t1, c1 are other people's
    assert ids_of(rows, agenda) == ["c1", "a1", "t1", "a2", "b1", "a3", "a7"]
