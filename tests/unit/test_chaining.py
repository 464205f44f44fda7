"""Done, feedback and chaining (Odoo semantics): suggest, trigger, both delay bases, calendar
months at month ends, the seed's chain Call → (suggest) Meeting +3 days → (trigger) follow-up
e-mail +1 week, history, and attachments on upload activities. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlmodel import func, select

from crm_tui.models import Activity, Attachment, Contact, HistoryEntry, Opportunity, Pipeline, Stage
from crm_tui.services.activities import plan_activity
from crm_tui.services.activity_types import add_type, edit_type
from crm_tui.services.chaining import (
    ActivityDraft,
    mark_done,
    next_due,
    plan_from_draft,
    preview_next,
    read_upload,
)
from crm_tui.services.defaults import install_defaults
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError

NOW = "2026-11-23T10:00:00+01:00"  # a Monday; today is 2026-11-23 in Berlin and Warsaw


@pytest.fixture
def crm(db, people, frozen_now):
    """Default types, one contact of anna's with one opportunity."""
    frozen_now(NOW)
    with db.write() as session:
        install_defaults(session)
        contact = Contact(name="Pan", first_name="Peter", status="customer",
                          assigned_user_id=people["anna"].id)
        session.add(contact)
        session.flush()
        pipeline = session.exec(select(Pipeline).order_by(Pipeline.position)).first()
        stage = session.exec(select(Stage).where(Stage.pipeline_id == pipeline.id)).first()
        opportunity = Opportunity(title="Mietwohnung Olpe", contact_id=contact.id,
                                  pipeline_id=pipeline.id, stage_id=stage.id)
        session.add(opportunity)
        session.flush()
        people.contact_id, people.opportunity_id = contact.id, opportunity.id
    return people


def plan(db, actor, kind, due, **values) -> int:
    with db.write() as session:
        values.setdefault("contact_id", session.exec(select(Contact.id)).first())
        return plan_activity(session, actor, {"type": kind, "due": due, **values}).id


def done(db, actor, activity_id, feedback="", **options):
    with db.write() as session:
        return mark_done(session, actor, activity_id, feedback, **options)


def activity(db, activity_id) -> Activity:
    with db.read() as session:
        return session.get(Activity, activity_id)


def activity_count(db) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(Activity)).one()


def test_done_stores_feedback_and_writes_history(db, crm):
    anna = crm["anna"]
    aid = plan(db, anna, "Zu erledigen", "2026-11-23", opportunity_id=crm.opportunity_id)
    result = done(db, anna, aid, "Unterlagen verschickt")
    assert result.chaining == "none" and result.created is None and result.draft is None
    assert result.done.status == "done" and result.done.state == "none"
    assert result.done.feedback == "Unterlagen verschickt"
    stored = activity(db, aid)
    assert stored.done_at is not None and stored.status == "done"
    with db.read() as session:
        entry = session.exec(select(HistoryEntry).where(HistoryEntry.action == "activity_done")).one()
        contact = session.get(Contact, crm.contact_id)
        opportunity = session.get(Opportunity, crm.opportunity_id)
    assert (entry.contact_id, entry.opportunity_id, entry.activity_id) == (crm.contact_id, crm.opportunity_id, aid)
    assert entry.note == "Unterlagen verschickt"
    assert contact.next_activity_due is None and opportunity.next_activity_due is None


def test_suggest_returns_a_prefilled_draft_and_plans_nothing(db, crm):
    anna = crm["anna"]
    aid = plan(db, anna, "Anruf", "2026-11-20", opportunity_id=crm.opportunity_id)  # 3 days overdue
    before = activity_count(db)
    result = done(db, anna, aid, "erreicht")
    assert result.chaining == "suggest" and result.created is None
    draft = result.draft
    assert isinstance(draft, ActivityDraft)
    # Meeting's defaults; due = previous deadline (Nov 20) + 3 days, as Anruf says.
    assert (draft.type, draft.category, draft.summary) == ("Meeting", "meeting", "Termin")
    assert draft.due == date(2026, 11, 23)
    assert draft.reminder_minutes == 60
    assert draft.assigned_to == "anna"
    assert (draft.contact_id, draft.opportunity_id, draft.previous_id) == (crm.contact_id, crm.opportunity_id, aid)
    assert activity_count(db) == before
    # The rep edits the form and confirms it.
    with db.write() as session:
        confirmed = plan_from_draft(session, anna, replace(draft, summary="Besichtigung"),
                                    {"time": "14:30", "place": "Olpe"})
        assert (confirmed.previous_id, confirmed.summary, confirmed.place) == (aid, "Besichtigung", "Olpe")
        assert confirmed.due_time.hour == 14


def test_suggest_with_plan_next_creates_it_with_its_defaults(db, crm):
    anna = crm["anna"]
    aid = plan(db, anna, "Anruf", "2026-11-23")
    result = done(db, anna, aid, plan_next=True)
    created = result.created
    assert result.draft is None
    assert (created.type, created.summary, created.due, created.previous_id) == ("Meeting", "Termin", date(2026, 11, 26), aid)
    assert created.assigned_to == "anna" and created.status == "planned" and created.state == "planned"
    with db.read() as session:
        contact = session.get(Contact, crm.contact_id)
    assert contact.next_activity_due == date(2026, 11, 26)


def test_trigger_creates_the_next_at_once_from_the_completion_date(db, crm, frozen_now):
    anna = crm["anna"]
    aid = plan(db, anna, "Meeting", "2026-11-20", opportunity_id=crm.opportunity_id)
    result = done(db, anna, aid, "gutes Gespräch")  # no plan_next needed
    created = result.created
    assert result.chaining == "trigger" and result.draft is None
    # Meeting: +1 week after the completion date (today, Nov 23), not after Nov 20.
    assert created.due == date(2026, 11, 30)
    assert (created.type, created.category, created.summary) == ("Nachfass-E-Mail", "email", "Nachfassen nach dem Termin")
    assert created.note.startswith("Vielen Dank für das Gespräch")
    assert (created.previous_id, created.opportunity_id) == (aid, crm.opportunity_id)
    with db.read() as session:
        opportunity = session.get(Opportunity, crm.opportunity_id)
        actions = session.exec(
            select(HistoryEntry.action, HistoryEntry.activity_id)
            .where(HistoryEntry.opportunity_id == crm.opportunity_id).order_by(HistoryEntry.id)
        ).all()
    assert opportunity.next_activity_due == date(2026, 11, 30)
    assert actions == [("activity_planned", aid), ("activity_done", aid), ("activity_planned", created.id)]


@pytest.mark.parametrize(
    ("delay_from", "expected"),
    [("previous_deadline", date(2026, 11, 13)), ("completion_date", date(2026, 11, 26))],
)
def test_both_delay_bases(db, crm, delay_from, expected):
    with db.write() as session:
        edit_type(session, crm["tester"], "Anruf", {"delay_from": delay_from})
    aid = plan(db, crm["anna"], "Anruf", "2026-11-10")  # done 13 days late
    assert done(db, crm["anna"], aid).draft.due == expected


@pytest.mark.parametrize(
    ("deadline", "count", "expected"),
    [
        ("2026-01-31", 1, date(2026, 2, 28)),   # Jan 31 + 1 month: clamped to February's end
        ("2028-01-31", 1, date(2028, 2, 29)),   # ... a leap year's
        ("2026-03-31", 1, date(2026, 4, 30)),
        ("2026-08-31", 6, date(2027, 2, 28)),   # across the year
        ("2026-02-28", 1, date(2026, 3, 28)),   # not "the month's end" again
        ("2026-12-15", 12, date(2027, 12, 15)),
    ],
)
def test_calendar_months_at_month_ends(db, crm, deadline, count, expected):
    tester = crm["tester"]
    with db.write() as session:
        add_type(session, tester, {"name": "Monatlich", "category": "todo", "chaining": "trigger",
                                   "next_type": "Zu erledigen", "delay_count": count, "delay_unit": "months"})
    aid = plan(db, tester, "Monatlich", deadline)
    assert done(db, tester, aid).created.due == expected


def test_months_from_the_completion_date_at_a_month_end(db, crm, frozen_now):
    frozen_now("2026-01-31T12:00:00+01:00")
    tester = crm["tester"]
    with db.write() as session:
        add_type(session, tester, {"name": "Monatlich", "category": "todo", "chaining": "suggest",
                                   "next_type": "Monatlich", "delay_count": 1, "delay_unit": "months",
                                   "delay_from": "completion_date"})
    aid = plan(db, tester, "Monatlich", "2026-01-15")
    assert done(db, tester, aid).draft.due == date(2026, 2, 28)


def test_next_due_weeks_and_zero_delay():
    from crm_tui.models import ActivityType

    weekly = ActivityType(name="w", category="todo", delay_count=2, delay_unit="weeks")
    assert next_due(weekly, date(2026, 12, 25), date(2026, 12, 1)) == date(2027, 1, 8)
    same_day = ActivityType(name="s", category="todo", delay_count=0, delay_from="completion_date")
    assert next_due(same_day, date(2026, 12, 25), date(2026, 12, 1)) == date(2026, 12, 1)


def test_the_seed_chain_call_meeting_followup(db, crm, frozen_now):
    """Call → (suggest) Meeting +3 days after its deadline → (trigger) follow-up e-mail +1 week
    after the meeting was done, exactly as the default type settings say."""
    anna = crm["anna"]
    call = plan(db, anna, "Anruf", "today", opportunity_id=crm.opportunity_id)
    assert activity(db, call).summary == "Anrufen"
    assert activity(db, call).note == "Gesprächsnotiz:"

    first = done(db, anna, call, "Termin vereinbart", plan_next=True)
    meeting = first.created
    assert (meeting.type, meeting.due) == ("Meeting", date(2026, 11, 26))  # Mon + 3 days

    frozen_now("2026-11-27T16:00:00+01:00")  # the meeting is done a day late, on Friday
    second = done(db, anna, meeting.id, "Angebot gewünscht")
    followup = second.created
    assert second.chaining == "trigger"
    assert (followup.type, followup.due) == ("Nachfass-E-Mail", date(2026, 12, 4))  # Fri + 1 week
    assert followup.previous_id == meeting.id and meeting.previous_id == call

    third = done(db, anna, followup.id, "verschickt", plan_next=True)
    assert third.chaining == "none" and third.created is None and third.draft is None
    with db.read() as session:
        contact = session.get(Contact, crm.contact_id)
        feedback = session.exec(
            select(HistoryEntry.note).where(HistoryEntry.contact_id == crm.contact_id,
                                            HistoryEntry.action == "activity_done").order_by(HistoryEntry.id)
        ).all()
    assert contact.next_activity_due is None
    assert feedback == ["Termin vereinbart", "Angebot gewünscht", "verschickt"]


def test_next_assignee_is_the_next_types_default_else_the_previous_assignee(db, crm):
    tester, anna = crm["tester"], crm["anna"]
    aid = plan(db, anna, "Meeting", "today")
    # tester (an admin) completes anna's meeting: the follow-up stays with anna.
    assert done(db, tester, aid).created.assigned_to == "anna"
    with db.write() as session:
        edit_type(session, tester, "Nachfass-E-Mail", {"default_assignee": "ben"})
    aid = plan(db, anna, "Meeting", "today")
    assert done(db, anna, aid).created.assigned_to == "ben"


def test_done_twice_unknown_and_someone_elses(db, crm):
    anna, ben = crm["anna"], crm["ben"]
    aid = plan(db, anna, "Zu erledigen", "today")
    with pytest.raises(PermissionDenied, match="assigned to anna"):
        done(db, ben, aid)
    assert activity(db, aid).status == "planned"
    done(db, anna, aid)
    with pytest.raises(ValidationError, match="already done"):
        done(db, anna, aid)
    with pytest.raises(NotFound):
        done(db, anna, 99_999)


def test_manager_completes_a_team_members_activity(db, crm):
    aid = plan(db, crm["anna"], "Zu erledigen", "today")
    assert done(db, crm["mia"], aid).done.status == "done"  # mia manages team Nord


def test_upload_stores_the_file_as_an_attachment(db, crm, tmp_path):
    anna = crm["anna"]
    document = tmp_path / "Exposé Loft.pdf"
    document.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 4)
    aid = plan(db, anna, "Dokument hochladen", "today", opportunity_id=crm.opportunity_id)
    result = done(db, anna, aid, "hochgeladen", file=str(document))
    with db.read() as session:
        stored = session.get(Attachment, result.attachment_id)
        entry = session.exec(select(HistoryEntry).where(HistoryEntry.action == "attachment")).one()
    assert (stored.filename, stored.mime_type, stored.size) == ("Exposé Loft.pdf", "application/pdf", 1033)
    assert stored.data == document.read_bytes()
    assert (stored.contact_id, stored.opportunity_id, stored.activity_id) == (crm.contact_id, crm.opportunity_id, aid)
    assert entry.subject == "Exposé Loft.pdf"


def test_upload_refuses_a_missing_or_too_large_file_and_writes_nothing(db, crm, tmp_path):
    anna = crm["anna"]
    aid = plan(db, anna, "Dokument hochladen", "today")
    with pytest.raises(ValidationError) as caught:
        done(db, anna, aid, file=str(tmp_path / "nope.pdf"))
    assert caught.value.field == "file" and "no such file" in caught.value.message
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 3 * 1024 * 1024)
    with pytest.raises(ValidationError, match=r"big.bin is 3.0 MB; the limit is 2.0 MB"):
        done(db, anna, aid, file=read_upload(big, max_bytes=2 * 1024 * 1024))
    with pytest.raises(ValidationError, match="is not a file"):
        read_upload(tmp_path)
    assert activity(db, aid).status == "planned"
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Attachment)).one() == 0


def test_unknown_mime_type_is_octet_stream(tmp_path):
    odd = tmp_path / "notes.zzqx"
    odd.write_bytes(b"?")
    assert read_upload(odd).mime_type == "application/octet-stream"


def test_preview_then_done_and_plan_next_in_one_transaction(db, crm):
    """The form opens before anything is saved; confirming it completes and plans at once."""
    anna = crm["anna"]
    aid = plan(db, anna, "Anruf", "2026-11-24", opportunity_id=crm.opportunity_id)
    with db.read() as session:
        draft = preview_next(session, anna, aid)
    assert (draft.type, draft.due, draft.previous_id) == ("Meeting", date(2026, 11, 27), aid)
    assert activity(db, aid).status == "planned"  # a preview writes nothing
    result = done(db, anna, aid, "Termin steht", plan_next=True,
                  next_edits={"due": "2026-11-28", "time": "09:30", "summary": "Besichtigung Loft"})
    created = result.created
    assert (created.due, created.summary, created.type) == (date(2026, 11, 28), "Besichtigung Loft", "Meeting")
    assert created.time.hour == 9 and created.previous_id == aid
    with db.read() as session:
        assert preview_next(session, anna, created.id).type == "Nachfass-E-Mail"
    # A bad date in the confirmed form: nothing is written, the activity stays open.
    other = plan(db, anna, "Anruf", "2026-11-24")
    with pytest.raises(ValidationError) as caught:
        done(db, anna, other, plan_next=True, next_edits={"due": "nächste Woche"})
    assert caught.value.field == "due"
    assert activity(db, other).status == "planned"


def test_a_new_type_may_suggest_itself_but_not_trigger_itself(db, crm):
    tester = crm["tester"]
    with db.write() as session:
        kind = add_type(session, tester, {"name": "Wiedervorlage", "category": "reminder",
                                          "chaining": "suggest", "next_type": "wiedervorlage",
                                          "delay_count": 1, "delay_unit": "months"})
        assert kind.next_type_id == kind.id
    with pytest.raises(ValidationError, match="Schleife → Schleife would trigger"), db.write() as session:
        add_type(session, tester, {"name": "Schleife", "category": "todo", "chaining": "trigger",
                                   "next_type": "Schleife"})
    aid = plan(db, tester, "Wiedervorlage", "2026-11-30")
    assert done(db, tester, aid).draft.due == date(2026, 12, 30)
