"""Contacts service: create/edit with validation, required fields, locks, history, search, filters,
and stale-edit conflicts. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import func, select

from crm_tui.config import RequiredSettings, Settings
from crm_tui.models import Contact, HistoryEntry
from crm_tui.services.contacts import (
    count_contacts,
    create_contact,
    get_contact,
    list_contacts,
    update_contact,
)
from crm_tui.services.errors import ConflictError, PermissionDenied, ValidationError
from crm_tui.services.query import parse

# Prospects need the seed-001 fields by default; most tests create customers for brevity.
LOOSE = Settings(required=RequiredSettings(prospect=("name",)))


def add(db, actor, settings=LOOSE, **values):
    values.setdefault("status", "customer")
    with db.write() as session:
        return create_contact(session, actor, values, settings=settings, auto_plan=False).id


def contact_count(db) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(Contact)).one()


def test_create_and_show(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    cid = add(db, people["anna"], name="Müller", first_name="Jürgen", company="Müller Bau GmbH",
              email="jm@mueller-bau.de", phone="+49 (0)2761 123-45", city="Olpe",
              expected_revenue="1.000,50", assigned_to="anna")
    with db.read() as session:
        detail = get_contact(session, people["anna"], cid)
    assert detail.display_name == "Müller, Jürgen"
    assert detail.expected_revenue == Decimal("1000.50")
    assert detail.assigned_to == "anna"
    assert detail.created_by == "anna"
    assert detail.state == "none"
    assert detail.version == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "email": "not-an-address"}, "email"),
        ({"name": "X", "phone": "call me"}, "phone"),
        ({"name": "X", "expected_revenue": "lots"}, "expected_revenue"),
        ({"name": "X", "status": "vip"}, "status"),
        ({"name": "X", "assigned_to": "nobody-here"}, "assigned_to"),
        ({"name": "X", "contacted_on": "someday"}, "contacted_on"),
        ({"name": "X", "shoe_size": "44"}, "shoe_size"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(db, people, values, field):
    with pytest.raises(ValidationError) as caught:
        add(db, people["tester"], **values)
    assert caught.value.field == field
    assert contact_count(db) == 0


def test_prospect_requires_seed_001_fields(db, people):
    with pytest.raises(ValidationError) as caught:
        add(db, people["anna"], settings=Settings(), name="Nowak", status="prospect")
    assert caught.value.field in {"source", "company", "city"}
    assert "prospect" in caught.value.message
    assert contact_count(db) == 0


def test_customer_number_is_unique(db, people):
    add(db, people["tester"], name="A", customer_number="K-2026-00001")
    with pytest.raises(ValidationError, match="customer_number"):
        add(db, people["tester"], name="B", customer_number="K-2026-00001")


def test_new_prospect_is_locked_to_its_creator(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    cid = add(db, people["anna"], name="Kowalski", status="prospect")
    with db.read() as session:
        detail = get_contact(session, people["ben"], cid)
    assert detail.locked_by == "anna"
    assert detail.locked_until.date().isoformat() == "2027-05-23"
    with pytest.raises(PermissionDenied, match="locked by anna until 2027-05-23"):
        with db.write() as session:
            update_contact(session, people["ben"], cid, {"city": "Olpe"}, settings=LOOSE)
    # a manager may; and after the lock period anybody may
    with db.write() as session:
        update_contact(session, people["mia"], cid, {"city": "Olpe"}, settings=LOOSE)
    frozen_now("2027-05-24T10:00:00+01:00")
    with db.write() as session:
        update_contact(session, people["ben"], cid, {"city": "Attendorn"}, settings=LOOSE)


def test_edit_records_history_per_field(db, people):
    cid = add(db, people["tester"], name="Schmidt", city="Olpe")
    with db.write() as session:
        update_contact(session, people["tester"], cid, {"city": "Siegen", "phone": "0271 12345"}, settings=LOOSE)
    with db.read() as session:
        changes = session.exec(
            select(HistoryEntry.field, HistoryEntry.old_value, HistoryEntry.new_value)
            .where(HistoryEntry.contact_id == cid, HistoryEntry.action == "change")
            .order_by(HistoryEntry.field)
        ).all()
    assert [tuple(c) for c in changes] == [("city", "Olpe", "Siegen"), ("phone", "", "0271 12345")]


def test_stale_edit_is_a_conflict_not_an_overwrite(db, people):
    cid = add(db, people["tester"], name="Weber", city="Olpe")
    with db.read() as session:
        loaded = get_contact(session, people["tester"], cid)
    with db.write() as session:  # somebody else saves first
        update_contact(session, people["tester"], cid, {"city": "Siegen"}, expected_version=loaded.version,
                       settings=LOOSE)
    with pytest.raises(ConflictError) as caught:
        with db.write() as session:
            update_contact(session, people["tester"], cid, {"city": "Köln"}, expected_version=loaded.version,
                           base=loaded.form_values(), settings=LOOSE)
    [conflict] = caught.value.fields
    assert (conflict.field, conflict.base, conflict.mine, conflict.theirs) == ("city", "Olpe", "Köln", "Siegen")
    with db.read() as session:
        assert get_contact(session, people["tester"], cid).city == "Siegen"


def test_search_folds_letters(db, people):
    add(db, people["tester"], name="Wójcik", first_name="Łukasz", city="Łódź")
    add(db, people["tester"], name="Müller", first_name="Hans", street="Hauptstraße 1")
    add(db, people["tester"], name="Straßer", first_name="Eva", phone="+49 (0)2761 123-45")
    add(db, people["tester"], name="Smith", first_name="John", email="john@smith.co.uk")
    actor = people["tester"]

    def names(query: str) -> list[str]:
        with db.read() as session:
            return [r.name for r in list_contacts(session, actor, parse(query))]

    assert names("lukasz") == ["Wójcik"]
    assert names("lodz") == ["Wójcik"]
    assert names("mueller") == ["Müller"]
    assert names("muller") == ["Müller"]
    assert names("Müll") == ["Müller"]
    assert names("strasser") == ["Straßer"]
    assert names("02761 12345") == ["Straßer"]
    assert names("smith.co") == ["Smith"]
    assert names('NEAR( "x" AND *') == []


def test_filters(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    t = people["tester"]
    add(db, t, name="A", city="Olpe", assigned_to="anna", source="Messe")
    add(db, t, name="B", city="Olpe", assigned_to="team:Nord")
    add(db, t, name="C", city="Siegen", status="archived")
    add(db, t, name="D", city="olpe", country="DE")

    def names(query: str, actor=t) -> list[str]:
        with db.read() as session:
            return [r.name for r in list_contacts(session, actor, parse(query, actor.today()))]

    assert names("") == ["A", "B", "D"]  # archived hidden by default
    assert names("status:all") == ["A", "B", "C", "D"]
    assert names("status:archived") == ["C"]
    assert names("city:Olpe") == ["A", "B", "D"]
    assert names("-city:Olpe") == []
    assert names("assigned:@me", people["anna"]) == ["A"]
    assert names("team:Nord") == ["B"]
    assert names("assigned:everybody") == ["D"]
    assert names("source:Messe") == ["A"]
    assert names("created:2026-11") == ["A", "B", "D"]
    assert names("created:<2026-11") == []
    assert names("state:none") == ["A", "B", "D"]
    with db.read() as session:
        assert count_contacts(session, t, parse("city:Olpe")) == 3


def test_sort_and_window(db, people):
    for name in ["Delta", "alpha", "Charlie", "Bravo"]:
        add(db, people["tester"], name=name)
    with db.read() as session:
        first = list_contacts(session, people["tester"], sort="name", offset=0, limit=2)
        second = list_contacts(session, people["tester"], sort="name", offset=2, limit=2)
        backwards = list_contacts(session, people["tester"], sort="name", descending=True, limit=1)
    assert [r.name for r in first + second] == sorted(["Delta", "alpha", "Charlie", "Bravo"])
    assert backwards[0].name == "alpha"
    with pytest.raises(ValidationError, match="sort"):
        with db.read() as session:
            list_contacts(session, people["tester"], sort="shoe")
