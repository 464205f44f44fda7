"""Triage: reschedule one or many (to a date, by +N days/weeks/months), reminders re-armed,
pause/resume removing and restoring the records' state, cancel, reassign, "move all my overdue
to today", all or nothing, history rows, and the state at time-zone boundaries with a frozen
clock. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import func, select

from crm_tui.models import (
    Activity,
    ActivityType,
    Contact,
    HistoryEntry,
    Opportunity,
    Pipeline,
    Stage,
    User,
)
from crm_tui.services import activities
from crm_tui.services.activities import (
    cancel,
    list_activities,
    move_overdue_to_today,
    open_counts,
    parse_shift,
    pause,
    plan_activity,
    reassign,
    reschedule,
    resume,
    rows_by_ids,
)
from crm_tui.services.defaults import install_defaults
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.identity import actor_for

NOW = "2026-11-23T10:00:00+01:00"  # Monday; today is 2026-11-23 for everybody in Europe
TODAY = date(2026, 11, 23)


@pytest.fixture
def crm(db, people, frozen_now):
    """Default types; two contacts of anna's, the first with an opportunity."""
    frozen_now(NOW)
    with db.write() as session:
        install_defaults(session)
        first = Contact(name="Pan", status="customer", assigned_user_id=people["anna"].id)
        second = Contact(name="Renter", status="customer", assigned_user_id=people["anna"].id)
        session.add_all([first, second])
        session.flush()
        pipeline = session.exec(select(Pipeline).order_by(Pipeline.position)).first()
        stage = session.exec(select(Stage).where(Stage.pipeline_id == pipeline.id)).first()
        opportunity = Opportunity(title="Loft", contact_id=first.id, pipeline_id=pipeline.id,
                                  stage_id=stage.id)
        session.add(opportunity)
        session.flush()
        people.first, people.second, people.opportunity = first.id, second.id, opportunity.id
    return people


def plan(db, actor, due, contact_id, kind="Zu erledigen", **values) -> int:
    with db.write() as session:
        return plan_activity(session, actor, {"type": kind, "due": due, "contact_id": contact_id,
                                              **values}).id


def get(db, activity_id) -> Activity:
    with db.read() as session:
        return session.get(Activity, activity_id)


def next_due(db, model, record_id):
    with db.read() as session:
        return session.get(model, record_id).next_activity_due


def history_of(db, action):
    with db.read() as session:
        return session.exec(
            select(HistoryEntry).where(HistoryEntry.action == action).order_by(HistoryEntry.id)
        ).all()


def test_parse_shift():
    assert parse_shift("+3d") == (3, "days")
    assert parse_shift("3") == (3, "days")
    assert parse_shift(3) == (3, "days")
    assert parse_shift("-1w") == (-1, "weeks")
    assert parse_shift("+2m") == (2, "months")
    assert parse_shift("2 weeks") == (2, "weeks")
    assert parse_shift(timedelta(days=5)) == (5, "days")
    with pytest.raises(ValidationError) as caught:
        parse_shift("soon")
    assert caught.value.field == "by"


def test_reschedule_one_to_a_date(db, crm):
    anna = crm["anna"]
    aid = plan(db, anna, "2026-11-20", crm.first, opportunity_id=crm.opportunity)
    version = get(db, aid).version
    assert next_due(db, Contact, crm.first) == date(2026, 11, 20)
    with db.write() as session:
        result = reschedule(session, anna, [aid], due="1.12.2026")
    assert result.changed == (aid,) and result.count == 1
    moved = get(db, aid)
    assert moved.due_date == date(2026, 12, 1)
    assert moved.version == version + 1  # an open form holding the old version sees the change
    assert next_due(db, Contact, crm.first) == date(2026, 12, 1)
    assert next_due(db, Opportunity, crm.opportunity) == date(2026, 12, 1)
    [entry] = history_of(db, "activity_rescheduled")
    assert (entry.contact_id, entry.opportunity_id, entry.activity_id) == (crm.first, crm.opportunity, aid)
    assert (entry.field, entry.old_value, entry.new_value) == ("due", "2026-11-20", "2026-12-01")
    assert entry.user_login == "anna"


def test_reschedule_many_by_a_shift_each_from_its_own_date(db, crm):
    anna = crm["anna"]
    ids = [plan(db, anna, due, contact) for due, contact in
           (("2026-11-20", crm.first), ("2026-11-23", crm.first), ("2026-11-30", crm.second))]
    with db.write() as session:
        result = reschedule(session, anna, ids, by="+3d")
    assert result.count == 3
    assert [get(db, i).due_date for i in ids] == [date(2026, 11, 23), date(2026, 11, 26), date(2026, 12, 3)]
    assert next_due(db, Contact, crm.first) == date(2026, 11, 23)
    assert next_due(db, Contact, crm.second) == date(2026, 12, 3)
    with db.write() as session:  # the screens' count prefix: `3` then the key
        reschedule(session, anna, ids[:1], by=3)
        reschedule(session, anna, ids[1:2], by="+1w")
        reschedule(session, anna, ids[2:], by="+1m")
    assert [get(db, i).due_date for i in ids] == [date(2026, 11, 26), date(2026, 12, 3), date(2027, 1, 3)]
    assert len(history_of(db, "activity_rescheduled")) == 6


def test_reschedule_to_the_same_date_changes_nothing(db, crm):
    aid = plan(db, crm["anna"], "2026-11-25", crm.first)
    with db.write() as session:
        result = reschedule(session, crm["anna"], [aid], due="2026-11-25")
    assert result.changed == () and result.unchanged == (aid,)
    assert history_of(db, "activity_rescheduled") == []


def test_reschedule_needs_exactly_one_of_date_or_shift_and_a_valid_date(db, crm):
    aid = plan(db, crm["anna"], "2026-11-25", crm.first)
    for kwargs in ({}, {"due": "today", "by": "+1d"}):
        with pytest.raises(ValidationError), db.write() as session:
            reschedule(session, crm["anna"], [aid], **kwargs)
    with pytest.raises(ValidationError) as caught, db.write() as session:
        reschedule(session, crm["anna"], [aid], due="32.13.2026")
    assert caught.value.field == "due"
    assert get(db, aid).due_date == date(2026, 11, 25)


def test_reschedule_re_arms_the_reminder(db, crm):
    """The daemon sends when remind_at differs from reminder_queued_for: a new date re-arms."""
    anna = crm["anna"]  # Europe/Warsaw
    aid = plan(db, anna, "2026-11-24", crm.first, time="10:00", reminder_minutes=30)
    armed = get(db, aid).remind_at
    assert armed == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)  # 09:30 in Warsaw
    with db.write() as session:  # what the daemon does when it queues the mail
        row = session.get(Activity, aid)
        row.reminder_queued_for = row.remind_at
        session.add(row)
    with db.write() as session:
        reschedule(session, anna, [aid], by="+2d")
    moved = get(db, aid)
    assert moved.remind_at == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    assert moved.reminder_queued_for == armed != moved.remind_at
    assert moved.due_time.hour == 10  # the time is kept
    # Without a time, the reminder is at the default due hour (09:00) of the new day.
    plain = plan(db, anna, "2026-11-24", crm.first, reminder_minutes=0)
    with db.write() as session:
        reschedule(session, anna, [plain], due="2026-11-27")
    assert get(db, plain).remind_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_pause_removes_the_state_and_resume_restores_it(db, crm):
    anna = crm["anna"]
    overdue = plan(db, anna, "2026-11-20", crm.first, opportunity_id=crm.opportunity)
    later = plan(db, anna, "2026-11-30", crm.first)
    with db.write() as session:
        assert pause(session, anna, [overdue]).changed == (overdue,)
    assert next_due(db, Contact, crm.first) == date(2026, 11, 30)  # only the later one counts
    assert next_due(db, Opportunity, crm.opportunity) is None       # none: grey
    assert get(db, overdue).paused
    with db.read() as session:
        assert open_counts(session, anna) == {"overdue": 0, "today": 0, "planned": 1}
    with db.write() as session:
        again = pause(session, anna, [overdue, later])
    assert again.changed == (later,) and again.unchanged == (overdue,)
    assert next_due(db, Contact, crm.first) is None
    with db.write() as session:
        resume(session, anna, [overdue, later])
    assert next_due(db, Contact, crm.first) == date(2026, 11, 20)
    assert next_due(db, Opportunity, crm.opportunity) == date(2026, 11, 20)
    assert [e.new_value for e in history_of(db, "activity_paused")] == ["True", "True"]
    assert len(history_of(db, "activity_resumed")) == 2


def test_cancel(db, crm):
    anna = crm["anna"]
    first = plan(db, anna, "2026-11-20", crm.first)
    second = plan(db, anna, "2026-11-28", crm.first)
    with db.write() as session:
        result = cancel(session, anna, [first], reason="hat abgesagt")
    assert result.changed == (first,)
    assert get(db, first).status == "cancelled"
    assert next_due(db, Contact, crm.first) == date(2026, 11, 28)
    [entry] = history_of(db, "activity_cancelled")
    assert (entry.note, entry.activity_id, entry.contact_id) == ("hat abgesagt", first, crm.first)
    with pytest.raises(ValidationError, match="is cancelled"), db.write() as session:
        reschedule(session, anna, [first, second], by="+1d")
    assert get(db, second).due_date == date(2026, 11, 28)  # all or nothing


def test_move_all_my_overdue_to_today(db, crm):
    anna, ben = crm["anna"], crm["ben"]
    mine = [plan(db, anna, due, crm.first) for due in ("2026-11-01", "2026-11-22")]
    paused = plan(db, anna, "2026-11-21", crm.second)
    today = plan(db, anna, "2026-11-23", crm.second)
    future = plan(db, anna, "2026-11-25", crm.second)
    bens = plan(db, ben, "2026-11-20", crm.second, assigned_to="ben")
    with db.write() as session:
        pause(session, anna, [paused])
    with db.write() as session:
        result = move_overdue_to_today(session, anna)
    assert sorted(result.changed) == sorted(mine)
    assert [get(db, i).due_date for i in mine] == [TODAY, TODAY]
    assert get(db, paused).due_date == date(2026, 11, 21)
    assert get(db, today).due_date == TODAY and get(db, future).due_date == date(2026, 11, 25)
    assert get(db, bens).due_date == date(2026, 11, 20)
    assert next_due(db, Contact, crm.first) == TODAY
    assert len(history_of(db, "activity_rescheduled")) == 2
    with db.write() as session:
        assert move_overdue_to_today(session, anna).count == 0


def test_reassign_many_moves_the_reminder_to_the_new_zone(db, crm):
    anna = crm["anna"]
    with db.write() as session:
        session.add(User(login="nyc", name="Nora York", timezone="America/New_York"))
    ids = [plan(db, anna, "2026-11-24", crm.first, time="10:00", reminder_minutes=0),
           plan(db, anna, "2026-11-25", crm.second)]
    with db.write() as session:
        result = reassign(session, crm["tester"], ids, "nyc")
    assert result.count == 2
    moved = get(db, ids[0])
    assert moved.remind_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York
    with db.read() as session:
        assert [r.assigned_to for r in rows_by_ids(session, anna, ids)] == ["nyc", "nyc"]
    entries = history_of(db, "activity_assigned")
    assert [(e.old_value, e.new_value) for e in entries] == [("anna", "nyc"), ("anna", "nyc")]
    with db.write() as session:
        reassign(session, crm["tester"], ids[:1], "team:Nord")
        assert reassign(session, crm["tester"], ids[:1], "team:Nord").unchanged == (ids[0],)
    with db.read() as session:
        assert rows_by_ids(session, anna, ids[:1])[0].assigned_to == "team:Nord"
    with pytest.raises(ValidationError) as caught, db.write() as session:
        reassign(session, crm["tester"], ids, "ghost")
    assert caught.value.field == "assigned_to"


def test_who_may_triage(db, crm):
    anna, ben, mia = crm["anna"], crm["ben"], crm["mia"]
    with db.write() as session:
        bens_contact = Contact(name="Becker Bau", status="customer", assigned_user_id=ben.id)
        session.add(bens_contact)
        session.flush()
        bens_contact = bens_contact.id
    annas = plan(db, anna, "2026-11-20", crm.first)
    bens = plan(db, ben, "2026-11-20", bens_contact, assigned_to="ben")
    on_annas_contact = plan(db, ben, "2026-11-20", crm.second, assigned_to="ben")
    with pytest.raises(PermissionDenied, match="assigned to anna"), db.write() as session:
        pause(session, ben, [annas])
    with pytest.raises(PermissionDenied), db.write() as session:  # one refused row: nothing done
        reschedule(session, anna, [annas, bens], by="+1d")
    assert get(db, annas).due_date == date(2026, 11, 20)
    with db.write() as session:
        reschedule(session, mia, [annas], by="+1d")  # mia manages Nord, anna's team
    with pytest.raises(PermissionDenied), db.write() as session:
        reschedule(session, mia, [bens], by="+1d")   # ben is in Süd
    with db.write() as session:
        # ben's activity on anna's contact: the contact's rep may handle it.
        reschedule(session, anna, [on_annas_contact], by="+1d")
    with db.write() as session:
        reschedule(session, crm["tester"], [annas, bens], by="+1d")  # admin
    with db.write() as session:
        plan_activity(session, ben, {"type": "Zu erledigen", "due": "today", "contact_id": bens_contact,
                                     "assigned_to": "anna"})
        created_by_ben = session.exec(select(Activity.id).order_by(Activity.id.desc())).first()
    with db.write() as session:  # whoever planned it for someone else may still handle it
        pause(session, ben, [created_by_ben])


def test_unknown_and_empty_ids(db, crm):
    with pytest.raises(NotFound), db.write() as session:
        pause(session, crm["anna"], [424242])
    with pytest.raises(ValidationError, match="no activity given"), db.write() as session:
        pause(session, crm["anna"], [])
    with pytest.raises(ValidationError, match="not an activity id"), db.write() as session:
        pause(session, crm["anna"], ["x"])


def test_many_rows_in_chunks(db, crm):
    """More ids than one IN (...) holds, across many contacts: one batch, every record updated."""
    anna = crm["anna"]
    count = activities.CHUNK * 2 + 17
    with db.write() as session:
        kind = session.exec(select(ActivityType.id).where(ActivityType.name == "Zu erledigen")).one()
        contacts = [Contact(name=f"C{i}", status="customer", assigned_user_id=anna.id) for i in range(count)]
        session.add_all(contacts)
        session.flush()
        contact_ids = [c.id for c in contacts]
        rows = [Activity(type_id=kind, contact_id=cid, due_date=date(2026, 11, 20), assigned_user_id=anna.id)
                for cid in contact_ids]
        session.add_all(rows)
        session.flush()
        ids = [a.id for a in rows]
        activities.touch_many(session, contact_ids, ())
    with db.write() as session:
        assert move_overdue_to_today(session, anna).count == count
    with db.read() as session:
        dues = session.exec(
            select(Contact.next_activity_due, func.count()).where(Contact.name.like("C%"))
            .group_by(Contact.next_activity_due)
        ).all()
        assert dues == [(TODAY, count)]
        assert session.exec(select(func.count()).select_from(HistoryEntry)
                            .where(HistoryEntry.activity_id.in_(ids[:5]))).one() == 5


# -- time zones --------------------------------------------------------------------------------


def test_state_at_a_time_zone_boundary(db, crm, frozen_now):
    """At 23:30 UTC on Nov 23 it is already Nov 24 in Warsaw but still Nov 23 in New York."""
    with db.write() as session:
        nyc = User(login="nyc", name="Nora York", timezone="America/New_York")
        session.add(nyc)
        session.flush()
        nyc_actor = actor_for(session, nyc)
    anna = crm["anna"]  # Europe/Warsaw
    for actor in (anna, nyc_actor):
        plan(db, actor, "2026-11-23", crm.first, assigned_to=actor.login)
    frozen_now("2026-11-23T23:30:00+00:00")
    assert anna.today() == date(2026, 11, 24) and nyc_actor.today() == date(2026, 11, 23)
    with db.read() as session:
        [warsaw] = list_activities(session, anna, mine=True)
        [new_york] = list_activities(session, nyc_actor, mine=True)
        assert (warsaw.state, new_york.state) == ("overdue", "today")
        assert open_counts(session, anna) == {"overdue": 1, "today": 0, "planned": 0}
        assert open_counts(session, nyc_actor) == {"overdue": 0, "today": 1, "planned": 0}
        assert [r.id for r in list_activities(session, anna, mine=True, state="overdue")] == [warsaw.id]
        assert list_activities(session, nyc_actor, mine=True, state="overdue") == []
    with db.write() as session:  # "move my overdue to today" uses each one's own today
        assert move_overdue_to_today(session, nyc_actor).count == 0
        assert move_overdue_to_today(session, anna).changed == (warsaw.id,)
    assert get(db, warsaw.id).due_date == date(2026, 11, 24)
    frozen_now("2026-11-23T22:59:00+00:00")  # 23:59 in Warsaw: still the 23rd there
    with db.read() as session:
        assert list_activities(session, nyc_actor, mine=True)[0].state == "today"
        assert list_activities(session, anna, mine=True)[0].state == "planned"


def test_relative_dates_count_from_the_users_today(db, crm, frozen_now):
    frozen_now("2026-11-23T23:30:00+00:00")
    aid = plan(db, crm["anna"], "tomorrow", crm.first)  # Warsaw's tomorrow
    assert get(db, aid).due_date == date(2026, 11, 25)
    with db.write() as session:
        reschedule(session, crm["anna"], [aid], due="today")
    assert get(db, aid).due_date == date(2026, 11, 24)


def test_list_filters(db, crm):
    anna, ben = crm["anna"], crm["ben"]
    overdue = plan(db, anna, "2026-11-20", crm.first, opportunity_id=crm.opportunity)
    today = plan(db, anna, "2026-11-23", crm.second)
    later = plan(db, ben, "2026-12-01", crm.second, assigned_to="ben")
    with db.write() as session:
        cancel(session, anna, [today])
    with db.read() as session:
        assert [r.id for r in list_activities(session, anna)] == [overdue, later]
        assert [r.id for r in list_activities(session, anna, mine=True)] == [overdue]
        assert [r.id for r in list_activities(session, anna, assigned_to="ben")] == [later]
        assert [r.id for r in list_activities(session, anna, contact_id=crm.second)] == [later]
        assert [r.id for r in list_activities(session, anna, opportunity_id=crm.opportunity)] == [overdue]
        assert [r.id for r in list_activities(session, anna, state="planned")] == [later]
        assert [r.id for r in list_activities(session, anna, status="cancelled")] == [today]
        assert len(list_activities(session, anna, status="all")) == 3
        assert [r.id for r in list_activities(session, anna, limit=1, offset=1)] == [later]
        with pytest.raises(ValidationError) as caught:
            list_activities(session, anna, state="soon")
        assert caught.value.field == "state"
        with pytest.raises(NotFound):
            list_activities(session, anna, contact_id=999_999)
