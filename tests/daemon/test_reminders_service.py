"""Activity reminders: due at (due - lead time) in the assignee's zone, one mail per recipient, never
for done/cancelled/paused activities, re-armed by a reschedule; in-app notices. Both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlmodel import select

from crm_tui.models import Activity, OutboxMail
from crm_tui.services import activities, reminders

SENDER = "CRM <crm@firma.test>"
TUESDAY = date(2026, 11, 24)


def queue(world):
    with world.db.write() as session:
        return reminders.queue_due_reminders(session, SENDER, "UTC", command="crm")


def outbox_rows(world) -> list[OutboxMail]:
    with world.db.read() as session:
        return list(session.exec(select(OutboxMail).order_by(OutboxMail.id)).all())


def test_a_reminder_is_due_at_the_minute_due_time_minus_lead_time(any_world, frozen_now):
    contact = any_world.contact()
    # anna works in Warsaw (UTC+1 in November): 10:00 local - 30 min = 08:30 UTC
    activity = any_world.activity(contact, TUESDAY, time(10, 0), minutes=30)
    frozen_now("2026-11-24T09:29:59+01:00")
    assert queue(any_world).handled == 0
    frozen_now("2026-11-24T09:30:00+01:00")
    batch = queue(any_world)
    assert batch.handled == 1 and [m.to for m in batch.added] == [("anna@firma.test",)]
    assert queue(any_world).handled == 0  # queued once
    (row,) = outbox_rows(any_world)
    assert row.dedupe_key == f"reminder:{activity}:20261124T0830Z:{any_world['anna'].id}"
    assert row.kind == "reminder" and row.activity_id == activity and row.contact_id == contact
    with any_world.db.read() as session:
        stored = session.get(Activity, activity)
    assert stored.reminder_queued_for == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    assert stored.version == 1  # the daemon's stamp is no edit: open forms do not conflict


def test_the_mail_names_activity_contact_opportunity_due_time_and_the_command(any_world, frozen_now):
    from crm_tui.services.opportunities import create_opportunity

    contact = any_world.contact(phone="+49 2761 12345")
    with any_world.db.write() as session:
        opp = create_opportunity(session, any_world["tester"], {"title": "MFH Olpe", "contact": contact}).id
    activity = any_world.activity(contact, TUESDAY, time(10, 0), opportunity_id=opp, summary="Preis klären")
    frozen_now("2026-11-24T08:30:00+00:00")
    with any_world.db.write() as session:
        reminders.queue_due_reminders(session, SENDER, "UTC", command="crm --db /srv/crm.sqlite3")
    (row,) = outbox_rows(any_world)
    assert "Preis klären" in row.subject and "Müller Bau GmbH" in row.subject
    for text in ("Anruf: Preis klären", "Tuesday 2026-11-24 10:00 (Europe/Warsaw)", "Jürgen Müller",
                 "Müller Bau GmbH", "+49 2761 12345", f"MFH Olpe (#{opp})",
                 f"crm --db /srv/crm.sqlite3 contacts show {contact}",
                 f"crm --db /srv/crm.sqlite3 activities done {activity}"):
        assert text in row.body, text


def test_a_team_activity_reminds_each_member(any_world, frozen_now):
    contact = any_world.contact()
    any_world.activity(contact, TUESDAY, time(10, 0), assignee=None, team="Nord")
    frozen_now("2026-11-24T12:00:00+00:00")
    batch = queue(any_world)
    assert sorted(m.to for m in batch.added) == [("anna@firma.test",), ("mia@firma.test",)]
    assert len({m.dedupe_key for m in batch.added}) == 2


def test_without_a_time_the_reminder_counts_from_the_default_hour_in_the_assignees_zone(any_world, frozen_now):
    contact = any_world.contact()
    any_world.activity(contact, TUESDAY, None, minutes=60, assignee="ben", default_hour=9)
    frozen_now("2026-11-24T06:59:00+00:00")  # ben: Berlin, 09:00 local = 08:00 UTC, minus an hour
    assert queue(any_world).handled == 0
    frozen_now("2026-11-24T07:00:00+00:00")
    assert [m.to for m in queue(any_world).added] == [("ben@firma.test",)]


def test_done_cancelled_and_paused_activities_send_nothing(any_world, frozen_now):
    contact = any_world.contact()
    tester = any_world["tester"]
    done = any_world.activity(contact, TUESDAY, time(10, 0), status="done")
    cancelled = any_world.activity(contact, TUESDAY, time(10, 0))
    paused = any_world.activity(contact, TUESDAY, time(10, 0))
    without = any_world.activity(contact, TUESDAY, time(10, 0), minutes=None)
    frozen_now("2026-11-24T07:00:00+00:00")
    with any_world.db.write() as session:
        activities.cancel(session, tester, [cancelled])
        activities.pause(session, tester, [paused])
    frozen_now("2026-11-25T12:00:00+00:00")
    assert queue(any_world).handled == 0
    assert outbox_rows(any_world) == []
    with any_world.db.write() as session:  # resumed: the reminder is due again, and goes out
        activities.resume(session, tester, [paused])
    batch = queue(any_world)
    assert [m.dedupe_key.split(":")[1] for m in batch.added] == [str(paused)]
    assert {done, without}.isdisjoint({r.activity_id for r in outbox_rows(any_world)})


def test_rescheduling_re_arms_the_reminder(any_world, frozen_now):
    contact = any_world.contact()
    activity = any_world.activity(contact, TUESDAY, time(10, 0))
    frozen_now("2026-11-24T08:30:00+00:00")
    assert len(queue(any_world).added) == 1
    with any_world.db.write() as session:
        activities.reschedule(session, any_world["tester"], [activity], by="+1d")
    assert queue(any_world).handled == 0  # the new moment is tomorrow
    frozen_now("2026-11-25T08:30:00+00:00")
    batch = queue(any_world)
    assert [m.dedupe_key for m in batch.added] == [f"reminder:{activity}:20261125T0830Z:{any_world['anna'].id}"]
    assert len(outbox_rows(any_world)) == 2


def test_a_reminder_seen_more_than_a_week_late_is_recorded_not_mailed(any_world, frozen_now):
    contact = any_world.contact()
    any_world.activity(contact, date(2026, 11, 2), time(10, 0))
    frozen_now("2026-11-24T08:30:00+00:00")
    (added,) = queue(any_world).added
    assert added.status == "failed" and "more than 7 days" in added.error
    (row,) = outbox_rows(any_world)
    assert row.status == "failed" and row.to_addrs == "anna@firma.test"


def test_a_user_without_address_gets_a_failed_row_with_the_reason(any_world, frozen_now):
    from crm_tui.models import User

    with any_world.db.write() as session:
        session.get(User, any_world["anna"].id).email = ""
    any_world.activity(any_world.contact(), TUESDAY, time(10, 0))
    frozen_now("2026-11-24T08:30:00+00:00")
    (added,) = queue(any_world).added
    assert added.status == "failed" and added.error == "not sent: user anna has no e-mail address"


def test_in_app_notices_are_the_users_own_and_their_teams(any_world, frozen_now):
    contact = any_world.contact()
    own = any_world.activity(contact, TUESDAY, time(10, 0), summary="own")
    team = any_world.activity(contact, TUESDAY, time(9, 5), assignee=None, team="Nord", summary="team")  # UTC
    any_world.activity(contact, TUESDAY, time(10, 0), assignee="ben", summary="bens")
    later = any_world.activity(contact, TUESDAY, time(16, 0), summary="later")
    frozen_now("2026-11-24T08:40:00+00:00")
    since = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    with any_world.db.read() as session:
        notices = reminders.due_reminders_for_user(session, any_world["anna"], since)
        none_yet = reminders.due_reminders_for_user(session, any_world["anna"], datetime(2026, 11, 24, 8, 40, tzinfo=UTC))
        for_ben = reminders.due_reminders_for_user(session, any_world["ben"], since)
    assert [n.activity_id for n in notices] == [own, team]
    assert notices[0].key == (own, datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    assert "own" in notices[0].message and "Müller" in notices[0].message
    assert none_yet == [] and [n.summary for n in for_ben] == ["bens"]
    assert later not in {n.activity_id for n in notices}
