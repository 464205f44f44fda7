"""Lifecycle: review, convert (with note transfer and customer numbers), close with a reason,
archive and restore; restricted actions; permissions; history. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from crm_tui.config import RequiredSettings, Settings
from crm_tui.models import Activity, Contact, HistoryEntry
from crm_tui.services import lifecycle
from crm_tui.services.activities import plan_activity
from crm_tui.services.contacts import create_contact, get_contact, update_contact
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))
NOW = "2026-11-23T10:00:00+01:00"


@pytest.fixture(autouse=True)
def _defaults(db):
    """Lost reasons, the "Kunden" number sequence and activity types, as a new database gets."""
    from crm_tui.services.defaults import install_defaults

    with db.write() as session:
        install_defaults(session)


def add(db, actor, **values):
    values.setdefault("status", "prospect")
    with db.write() as session:
        return create_contact(session, actor, values, settings=LOOSE, auto_plan=False).id


def status_rows(db, contact_id):
    with db.read() as session:
        return [
            (h.old_value, h.new_value, h.note, h.user_login)
            for h in session.exec(
                select(HistoryEntry).where(HistoryEntry.contact_id == contact_id, HistoryEntry.action == "status")
                .order_by(HistoryEntry.id)
            ).all()
        ]


def detail(db, actor, contact_id):
    with db.read() as session:
        return get_contact(session, actor, contact_id)


def test_convert_transfers_notes_into_history(db, people, frozen_now):
    frozen_now(NOW)
    anna = people["anna"]
    cid = add(db, anna, name="Kowalski", company="Kowalski Sp. z o.o.", assigned_to="anna",
              description="Erwarteter Netto-Jahresumsatz 12.000 € mit Flatrate")
    with db.write() as session:
        converted = lifecycle.convert_contact(session, anna, cid, transfer_notes=True, settings=LOOSE)
    assert converted.status == "customer"
    assert converted.description.startswith("Erwarteter")  # the prospect's data stays
    with db.read() as session:
        note = session.exec(
            select(HistoryEntry).where(HistoryEntry.contact_id == cid, HistoryEntry.action == "note")
        ).one()
    assert note.note == "Erwarteter Netto-Jahresumsatz 12.000 € mit Flatrate"
    assert note.field == "description" and note.user_login == "anna"
    assert status_rows(db, cid) == [("prospect", "customer", "converted", "anna")]


def test_convert_without_transfer_writes_no_note(db, people):
    cid = add(db, people["tester"], name="Nowak", description="notes")
    with db.write() as session:
        result = lifecycle.convert(session, people["tester"], [cid], settings=LOOSE)
    assert (result.count, result.notes_transferred) == (1, 0)
    with db.read() as session:
        assert session.exec(select(HistoryEntry).where(HistoryEntry.action == "note")).first() is None


def test_convert_takes_the_next_customer_number(db, people, frozen_now):
    frozen_now(NOW)
    first = add(db, people["tester"], name="A")
    second = add(db, people["tester"], name="B", status="customer", customer_number="K-2026-00001")
    with db.write() as session:
        converted = lifecycle.convert_contact(session, people["tester"], first, number_sequence="Kunden",
                                              settings=LOOSE)
    # K-2026-00001 is typed on contact B already: the sequence steps over it.
    assert converted.customer_number == "K-2026-00002"
    assert detail(db, people["tester"], second).customer_number == "K-2026-00001"
    with db.read() as session:
        from crm_tui.services.contacts import list_contacts
        from crm_tui.services.query import parse

        assert [r.id for r in list_contacts(session, people["tester"], parse("K-2026-00002"))] == [first]


def test_convert_refuses_a_duplicate_customer_number(db, people):
    add(db, people["tester"], name="B", status="customer", customer_number="K-1")
    cid = add(db, people["tester"], name="A")
    with pytest.raises(ValidationError) as caught:
        with db.write() as session:
            lifecycle.convert_contact(session, people["tester"], cid, customer_number="K-1", settings=LOOSE)
    assert caught.value.field == "customer_number"
    assert detail(db, people["tester"], cid).status == "prospect"


def test_inbox_contacts_are_restricted_until_reviewed(db, people, frozen_now):
    frozen_now(NOW)
    tester = people["tester"]
    cid = add(db, tester, name="Imported", status="inbox", phone="02761 12345")
    assert "plan" not in lifecycle.allowed_actions("inbox")
    with pytest.raises(ValidationError, match="in the inbox: it cannot be converted; review it first"):
        with db.write() as session:
            lifecycle.convert_contact(session, tester, cid, settings=LOOSE)
    with pytest.raises(ValidationError, match="review it first"):
        with db.write() as session:
            lifecycle.close_contact(session, tester, cid, "Preis zu hoch", "too expensive")
    with db.read() as session:
        with pytest.raises(ValidationError, match="cannot be given activities"):
            lifecycle.check_action(session.get(Contact, cid), "plan")

    # review needs the prospect's required fields (seed 001 by default)
    with pytest.raises(ValidationError) as caught:
        with db.write() as session:
            lifecycle.review_contact(session, tester, cid, settings=Settings())
    assert caught.value.field in {"source", "company", "city", "region"}
    assert f"contact {cid}" in caught.value.message
    with db.write() as session:
        reviewed = lifecycle.review_contact(session, tester, cid, settings=LOOSE)
    assert reviewed.status == "prospect"
    with db.read() as session:
        lifecycle.check_action(session.get(Contact, cid), "plan")  # allowed now
    assert status_rows(db, cid) == [("inbox", "prospect", "reviewed", "tester")]


def test_close_needs_a_known_reason_and_a_note_and_cancels_activities(db, people, frozen_now):
    frozen_now(NOW)
    tester = people["tester"]
    cid = add(db, tester, name="Schmidt", status="customer")
    with db.write() as session:
        plan_activity(session, tester, {"type": "call", "contact_id": cid, "due": "2026-11-25"}, settings=LOOSE)
    assert detail(db, tester, cid).state == "planned"

    with pytest.raises(ValidationError) as caught:
        with db.write() as session:
            lifecycle.close_contact(session, tester, cid, "Mondphase", "x")
    assert caught.value.field == "reason" and "Preis zu hoch" in caught.value.message
    with pytest.raises(ValidationError) as caught:
        with db.write() as session:
            lifecycle.close_contact(session, tester, cid, "Preis zu hoch", "  ")
    assert caught.value.field == "note"

    with db.write() as session:
        closed = lifecycle.close_contact(session, tester, cid, "preis zu hoch", "Zu teuer für den Kunden")
    assert (closed.status, closed.lost_reason, closed.close_note) == ("closed", "Preis zu hoch", "Zu teuer für den Kunden")
    assert closed.state == "none"  # the planned call was cancelled
    with db.read() as session:
        assert session.exec(select(Activity.status)).all() == ["cancelled"]
        cancelled = session.exec(
            select(HistoryEntry).where(HistoryEntry.action == "activity_cancelled")
        ).one()
        assert cancelled.contact_id == cid and cancelled.note == "contact closed"
    assert status_rows(db, cid) == [("customer", "closed", "Preis zu hoch: Zu teuer für den Kunden", "tester")]


def test_archive_and_restore_return_to_the_previous_status(db, people, frozen_now):
    frozen_now(NOW)
    tester = people["tester"]
    customer = add(db, tester, name="Kunde", status="customer")
    prospect = add(db, tester, name="Interessent")
    with db.write() as session:
        result = lifecycle.archive(session, tester, [customer, prospect])
    assert (result.count, result.skipped) == (2, 0)
    with db.write() as session:  # again: nothing to do, nothing written
        again = lifecycle.archive(session, tester, [customer, prospect])
    assert (again.count, again.skipped) == (0, 2)
    assert detail(db, tester, customer).status == "archived"
    with db.write() as session:
        lifecycle.restore(session, tester, [customer, prospect])
    assert detail(db, tester, customer).status == "customer"
    assert detail(db, tester, prospect).status == "prospect"
    assert status_rows(db, customer) == [
        ("customer", "archived", "", "tester"), ("archived", "customer", "restored", "tester"),
    ]


def test_restore_of_a_closed_contact_clears_the_reason(db, people, frozen_now):
    frozen_now(NOW)
    tester = people["tester"]
    cid = add(db, tester, name="Weg", status="customer")
    with db.write() as session:
        lifecycle.close(session, tester, [cid], "Sonstiges", "moved away")
        lifecycle.archive(session, tester, [cid])  # closed, then archived
        lifecycle.restore(session, tester, [cid])
    back = detail(db, tester, cid)
    assert (back.status, back.lost_reason) == ("closed", "Sonstiges")  # archive kept what it was
    with db.write() as session:
        lifecycle.restore(session, tester, [cid])
    back = detail(db, tester, cid)
    assert (back.status, back.lost_reason, back.close_note) == ("customer", None, "")


def test_restore_without_a_remembered_status_infers_it(db, people):
    tester = people["tester"]
    numbered = add(db, tester, name="A", status="archived", customer_number="K-9")
    plain = add(db, tester, name="B", status="archived")
    with db.write() as session:
        lifecycle.restore(session, tester, [numbered, plain])
    assert detail(db, tester, numbered).status == "customer"
    assert detail(db, tester, plain).status == "prospect"


def test_status_changes_respect_locks_and_assignment(db, people, frozen_now):
    frozen_now(NOW)
    cid = add(db, people["anna"], name="Lock", assigned_to="anna")
    with pytest.raises(PermissionDenied, match="locked by anna until 2027-05-23"):
        with db.write() as session:
            lifecycle.archive(session, people["ben"], [cid])
    with db.write() as session:  # a manager of anna's team may
        lifecycle.archive(session, people["mia"], [cid])
    assert detail(db, people["tester"], cid).status == "archived"


def test_one_refusal_changes_nothing(db, people, frozen_now):
    frozen_now(NOW)
    ben_own = add(db, people["ben"], name="Ben's", status="customer", assigned_to="ben")
    annas = add(db, people["anna"], name="Anna's", status="customer", assigned_to="anna")
    with pytest.raises(PermissionDenied, match="1 of 2 selected contacts cannot be changed"):
        with db.write() as session:
            lifecycle.archive(session, people["ben"], [ben_own, annas])
    assert detail(db, people["tester"], ben_own).status == "customer"
    assert status_rows(db, ben_own) == []


def test_unknown_contact_is_not_found(db, people):
    with pytest.raises(NotFound):
        with db.write() as session:
            lifecycle.archive(session, people["tester"], [424242])


def test_update_contact_still_refuses_status(db, people):
    cid = add(db, people["tester"], name="X")
    with pytest.raises(ValidationError, match="convert, close, archive or restore"):
        with db.write() as session:
            update_contact(session, people["tester"], cid, {"status": "customer"}, settings=LOOSE)


def test_bulk_transition_bumps_versions(db, people):
    cid = add(db, people["tester"], name="V", status="customer")
    before = detail(db, people["tester"], cid).version
    with db.write() as session:
        lifecycle.archive(session, people["tester"], [cid])
    assert detail(db, people["tester"], cid).version == before + 1
    with db.read() as session:
        assert session.exec(select(col(Contact.previous_status)).where(Contact.id == cid)).one() == "customer"


@pytest.mark.parametrize(
    ("values", "category"),
    [
        ({"phone": "02761 12345"}, "call"),
        ({"mobile": "0171 1234567"}, "call"),
        ({"email": "a@b.de"}, "email"),
        ({"phone": "02761 12345", "email": "a@b.de"}, "call"),  # both: a call
        ({}, None),
    ],
)
def test_auto_plan_on_create(db, people, frozen_now, values, category):
    """Seed 003: a new contact gets a call if it has a phone, else an e-mail if it has an address."""
    from crm_tui.models import ActivityType

    frozen_now(NOW)
    with db.write() as session:
        contact = create_contact(session, people["anna"], {"name": "Neu", "status": "customer", **values},
                                 settings=LOOSE)
        cid = contact.id
    with db.read() as session:
        planned = session.exec(
            select(ActivityType.category, Activity.due_date, Activity.assigned_user_id, Activity.status)
            .join(ActivityType, ActivityType.id == Activity.type_id).where(Activity.contact_id == cid)
        ).all()
        state = get_contact(session, people["anna"], cid).state
    if category is None:
        assert planned == [] and state == "none"
    else:
        [(kind, due, assignee, status)] = planned
        assert (kind, due.isoformat(), assignee, status) == (category, "2026-11-23", people["anna"].id, "planned")
        assert state == "today"


def test_auto_plan_can_be_switched_off(db, people):
    from crm_tui.config import GeneralSettings

    off = Settings(general=GeneralSettings(auto_plan=False), required=LOOSE.required)
    with db.write() as session:
        create_contact(session, people["anna"], {"name": "Still", "status": "customer", "phone": "0271 1234"},
                       settings=off)
    with db.read() as session:
        assert session.exec(select(Activity)).all() == []
