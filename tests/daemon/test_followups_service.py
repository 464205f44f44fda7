"""Follow-up mails (seed 004): the worked example literally, the three things that stop them,
catch-up after downtime, and two daemons making the same daily run."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import select

from crm_tui.config import FollowupSettings, Settings
from crm_tui.models import Opportunity, OutboxMail
from crm_tui.services import followups
from crm_tui.services.opportunities import create_opportunity, move_opportunity

SENDER = "CRM <crm@firma.test>"
SETTINGS = Settings(followup=FollowupSettings(run_time="07:00", timezone="UTC"))
MONDAY = date(2026, 11, 23)


def new_opportunity(world, frozen_now, entered: str = "2026-11-09T10:00:00+00:00") -> int:
    """An opportunity of ben's in "Qualifizierung" (14 days) of "B2B Vertrieb" (weekly follow-ups)."""
    frozen_now(entered)
    contact = world.contact()
    with world.db.write() as session:
        return create_opportunity(session, world["ben"], {
            "title": "Rahmenvertrag 2027", "contact": contact, "pipeline": "B2B Vertrieb",
            "stage": "Qualifizierung", "expected_revenue": "12000",
        }).id


def daily_run(world, frozen_now, moment: str | datetime, settings: Settings = SETTINGS):
    frozen_now(moment)
    with world.db.write() as session:
        result = followups.run_followups(session, settings, SENDER)
    return [] if result is None else result[1]


def mails(world) -> list[OutboxMail]:
    with world.db.read() as session:
        return list(session.exec(select(OutboxMail).where(OutboxMail.kind == "followup").order_by(OutboxMail.id)).all())


def test_seed_004_overdue_on_monday_first_mail_tuesday_0700_utc_then_every_tuesday(any_world, frozen_now):
    opp = new_opportunity(any_world, frozen_now)  # entered Mon 9 Nov 10:00 + 14 days -> overdue Mon 23 Nov
    sent_at: list[datetime] = []
    moment = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    while moment < datetime(2026, 12, 9, tzinfo=UTC):  # every hour for two weeks and a bit
        for mail in daily_run(any_world, frozen_now, moment):
            sent_at.append(moment)
            assert mail.to == ("ben@firma.test",)
        moment += timedelta(hours=1)
    assert sent_at == [datetime(2026, 11, 24, 7, 0, tzinfo=UTC), datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
                       datetime(2026, 12, 8, 7, 0, tzinfo=UTC)]
    assert [d.weekday() for d in sent_at] == [1, 1, 1]  # Tuesdays
    first, second, third = mails(any_world)
    assert first.subject.startswith("Follow-up 1: Rahmenvertrag 2027")
    assert "overdue since Monday 2026-11-23" in first.body
    assert "The next one comes on Tuesday 2026-12-01 at 07:00 UTC" in first.body
    assert f"crm opps show {opp}" in first.body
    assert first.dedupe_key == f"followup:{opp}:20261109T100000Z:1" and third.dedupe_key.endswith(":3")
    with any_world.db.read() as session:
        stored = session.get(Opportunity, opp)
    assert stored.followup_first_at == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert stored.followup_count == 3


def test_a_stage_change_stops_them_and_starts_a_new_stay(any_world, frozen_now):
    opp = new_opportunity(any_world, frozen_now)
    assert len(daily_run(any_world, frozen_now, "2026-11-24T07:00:00+00:00")) == 1
    frozen_now("2026-11-25T09:00:00+00:00")
    with any_world.db.write() as session:
        move_opportunity(session, any_world["ben"], opp, stage="Bedarfsanalyse")  # 21 days
    for day in range(1, 22):
        assert daily_run(any_world, frozen_now, datetime(2026, 11, 25, 7, tzinfo=UTC) + timedelta(days=day)) == []
    # in the new stage since Wed 25 Nov 09:00: overdue Wed 16 Dec, first mail Thu 17 Dec
    (mail,) = daily_run(any_world, frozen_now, "2026-12-17T07:00:00+00:00")
    assert mail.dedupe_key == f"followup:{opp}:20261125T090000Z:1"
    assert "Bedarfsanalyse" in mail.subject


@pytest.mark.parametrize(
    ("category", "due", "at_time"),
    [("meeting", date(2026, 12, 10), time(14, 0)), ("todo", date(2026, 11, 30), None)],
    ids=["meeting-planned-in-the-future", "new-to-do"],
)
def test_a_future_meeting_or_a_new_to_do_stops_them(any_world, frozen_now, category, due, at_time):
    opp = new_opportunity(any_world, frozen_now)
    contact = any_world.contact(name="Other")
    assert len(daily_run(any_world, frozen_now, "2026-11-24T07:00:00+00:00")) == 1
    frozen_now("2026-11-26T15:00:00+00:00")
    any_world.activity(contact, due, at_time, assignee="ben", category=category, opportunity_id=opp)
    for day in range(0, 35):
        assert daily_run(any_world, frozen_now, datetime(2026, 11, 27, 7, tzinfo=UTC) + timedelta(days=day)) == []


def test_a_to_do_from_before_it_was_overdue_does_not_stop_them(world, frozen_now):
    opp = new_opportunity(world, frozen_now)
    frozen_now("2026-11-10T09:00:00+00:00")
    world.activity(world.contact(), date(2026, 11, 12), None, assignee="ben", category="todo", opportunity_id=opp)
    assert len(daily_run(world, frozen_now, "2026-11-24T07:00:00+00:00")) == 1


def test_no_mail_while_a_meeting_lies_ahead(world, frozen_now):
    opp = new_opportunity(world, frozen_now)
    frozen_now("2026-11-10T09:00:00+00:00")  # planned before it was overdue, for 3 Dec
    world.activity(world.contact(), date(2026, 12, 3), time(11, 0), assignee="ben", category="meeting",
                   opportunity_id=opp)
    for day in range(0, 10):  # 24 Nov .. 3 Dec: the meeting is ahead
        assert daily_run(world, frozen_now, datetime(2026, 11, 24, 7, tzinfo=UTC) + timedelta(days=day)) == []
    (mail,) = daily_run(world, frozen_now, "2026-12-04T07:00:00+00:00")  # it passed, still in the stage
    assert mail.dedupe_key.endswith(":1")


def test_disabled_pipelines_closed_opportunities_and_stages_without_duration_get_none(world, frozen_now):
    from crm_tui.models import Pipeline
    from crm_tui.services.opportunities import mark_won

    opp = new_opportunity(world, frozen_now)
    with world.db.write() as session:
        pipeline = session.exec(select(Pipeline).where(Pipeline.name == "B2B Vertrieb")).one()
        pipeline.followup_enabled = False
    assert daily_run(world, frozen_now, "2026-11-24T07:00:00+00:00") == []
    with world.db.write() as session:
        session.exec(select(Pipeline).where(Pipeline.name == "B2B Vertrieb")).one().followup_enabled = True
        mark_won(session, world["ben"], opp)
    assert daily_run(world, frozen_now, "2026-11-25T07:00:00+00:00") == []


def test_after_downtime_the_owner_gets_one_mail_not_a_pile(world, frozen_now):
    opp = new_opportunity(world, frozen_now)
    assert len(daily_run(world, frozen_now, "2026-11-24T07:00:00+00:00")) == 1
    # the daemon is off for three weeks and starts on Wednesday 16 Dec at 10:00
    (mail,) = daily_run(world, frozen_now, "2026-12-16T10:00:00+00:00")
    assert mail.dedupe_key.endswith(":4")  # the mails of 1, 8 and 15 Dec fold into one
    assert daily_run(world, frozen_now, "2026-12-17T07:00:00+00:00") == []
    (mail,) = daily_run(world, frozen_now, "2026-12-22T07:00:00+00:00")  # the Tuesday rhythm holds
    assert mail.dedupe_key == f"followup:{opp}:20261109T100000Z:5"


def test_a_first_run_long_after_it_became_overdue_counts_from_that_day(world, frozen_now):
    new_opportunity(world, frozen_now)
    assert len(daily_run(world, frozen_now, "2026-12-03T08:00:00+00:00")) == 1  # Thursday
    assert daily_run(world, frozen_now, "2026-12-08T07:00:00+00:00") == []
    assert len(daily_run(world, frozen_now, "2026-12-10T07:00:00+00:00")) == 1  # the next Thursday


def test_the_run_time_and_zone_are_configurable(world, frozen_now):
    berlin = Settings(followup=FollowupSettings(run_time="08:30", timezone="Europe/Berlin"))
    new_opportunity(world, frozen_now)
    assert daily_run(world, frozen_now, "2026-11-24T07:29:00+00:00", berlin) == []
    assert len(daily_run(world, frozen_now, "2026-11-24T07:30:00+00:00", berlin)) == 1  # 08:30 in Berlin


def test_two_daemons_make_the_daily_run_once(any_world, frozen_now):
    for _ in range(5):
        new_opportunity(any_world, frozen_now)
    frozen_now("2026-11-24T07:00:00+00:00")
    results, errors = [], []

    def daemon():
        try:
            with any_world.db.write() as session:
                results.append(followups.run_followups(session, SETTINGS, SENDER))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=daemon) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    made = [r for r in results if r is not None]
    assert len(made) == 1 and len(made[0][1]) == 5
    assert len(mails(any_world)) == 5


def test_a_malformed_run_time_is_a_validation_error():
    from crm_tui.services.errors import ValidationError

    with pytest.raises(ValidationError) as bad:
        followups.run_time_of(Settings(followup=FollowupSettings(run_time="7 Uhr")))
    assert bad.value.field == "followup.run_time"
