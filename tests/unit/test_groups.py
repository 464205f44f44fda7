"""Groups: static (members), dynamic (a stored, validated query), the sidebar filter, permissions."""

from __future__ import annotations

import pytest

from crm_tui.config import RequiredSettings, Settings
from crm_tui.services import groups, lifecycle
from crm_tui.services.contacts import count_contacts, create_contact, list_contacts
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.query import QuerySyntaxError, parse

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))


def add(db, actor, **values):
    values.setdefault("status", "customer")
    with db.write() as session:
        return create_contact(session, actor, values, settings=LOOSE, auto_plan=False).id


def names(rows) -> list[str]:
    return [r.name for r in rows]


def test_static_group_members(db, people):
    t = people["tester"]
    a, b, c = (add(db, t, name=n) for n in ("Alpha", "Bravo", "Charlie"))
    with db.write() as session:
        row = groups.create_group(session, t, "Key accounts", number="G-1", assigned_to="anna")
    assert (row.kind, row.members, row.assigned_to, row.created_by) == ("static", 0, "anna", "tester")
    with db.write() as session:
        assert groups.add_members(session, t, "key accounts", [a, b]) == 2
        assert groups.add_members(session, t, "G-1", [b, c]) == 1  # b is in already
        assert groups.remove_members(session, t, row.id, [a, 999]) == 1
    with db.read() as session:
        assert names(groups.list_members(session, t, "Key accounts")) == ["Bravo", "Charlie"]
        assert groups.get_group(session, t, "Key accounts").members == 2
        # the sidebar applies the same term a person can type
        assert row.filter_text == 'group:"Key accounts"'
        assert names(list_contacts(session, t, parse(row.filter_text))) == ["Bravo", "Charlie"]
    with pytest.raises(NotFound):
        with db.write() as session:
            groups.add_members(session, t, "Key accounts", [12345])


def test_static_members_include_archived_ones(db, people):
    t = people["tester"]
    a = add(db, t, name="Archie")
    with db.write() as session:
        groups.create_group(session, t, "G")
        groups.add_members(session, t, "G", [a])
        lifecycle.archive(session, t, [a])
    with db.read() as session:
        assert names(groups.list_members(session, t, "G")) == ["Archie"]
        assert groups.count_members(session, t, "G") == 1
        # in the contact list the usual rule holds: archived ones hidden unless asked for
        assert count_contacts(session, t, parse('group:G')) == 0


def test_dynamic_group_stores_a_valid_query(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    t = people["tester"]
    add(db, t, name="Olper", city="Olpe", assigned_to="anna")
    add(db, t, name="Siegener", city="Siegen", assigned_to="anna")
    with db.write() as session:
        row = groups.create_group(session, t, "Olpe (Anna)", query="city:Olpe assigned:anna")
    assert (row.kind, row.members) == ("dynamic", None)
    with db.read() as session:
        assert names(groups.list_members(session, t, row.id)) == ["Olper"]
        assert names(list_contacts(session, t, parse('-group:"Olpe (Anna)"'))) == ["Siegener"]
        [listed] = groups.list_groups(session, t, count_dynamic=True)
    assert listed.members == 1

    with db.write() as session:
        with pytest.raises(QuerySyntaxError) as caught:
            groups.create_group(session, t, "Broken", query='city:"Olpe')
        assert caught.value.field == "query" and caught.value.position == 6
        with pytest.raises(ValidationError, match="no user with login 'nobody'"):
            groups.create_group(session, t, "Nobody's", query="assigned:nobody")
        with pytest.raises(ValidationError, match="static"):
            groups.create_group(session, t, "Static")
            groups.update_group(session, t, "Static", {"query": "city:Olpe"})


def test_a_dynamic_group_cannot_refer_to_itself(db, people):
    t = people["tester"]
    with db.write() as session:
        groups.create_group(session, t, "Loop", query="city:Olpe")
    with pytest.raises(QuerySyntaxError, match="refers to itself"):
        with db.write() as session:
            groups.update_group(session, t, "Loop", {"query": "group:Loop"})


def test_dynamic_groups_take_no_listed_members(db, people):
    t = people["tester"]
    a = add(db, t, name="A")
    with db.write() as session:
        groups.create_group(session, t, "Dyn", query="city:Olpe")
    with pytest.raises(ValidationError, match="dynamic"):
        with db.write() as session:
            groups.add_members(session, t, "Dyn", [a])


def test_names_and_numbers_are_unique(db, people):
    t = people["tester"]
    with db.write() as session:
        groups.create_group(session, t, "Nord", number="7")
    with db.write() as session:
        with pytest.raises(ValidationError) as caught:
            groups.create_group(session, t, "NORD")
        assert caught.value.field == "name"
        with pytest.raises(ValidationError) as caught:
            groups.create_group(session, t, "Süd", number="7")
        assert caught.value.field == "number"
        with pytest.raises(ValidationError) as caught:
            groups.create_group(session, t, "Team", assigned_to="team:Nord")
        assert caught.value.field == "assigned_to"
        with pytest.raises(ValidationError) as caught:
            groups.create_group(session, t, "  ")
        assert caught.value.field == "name"


def test_only_creator_assignee_or_manager_change_a_group(db, people):
    with db.write() as session:
        groups.create_group(session, people["anna"], "Annas")
    with pytest.raises(PermissionDenied, match="only anna"):
        with db.write() as session:
            groups.update_group(session, people["ben"], "Annas", {"name": "Bens"})
    with db.write() as session:
        groups.update_group(session, people["mia"], "Annas", {"number": "A-1"})
        groups.update_group(session, people["anna"], "Annas", {"name": "Anna's list"})
    with db.write() as session:
        deleted = groups.delete_group(session, people["anna"], "Anna's list")
    assert deleted.number == "A-1"
    with db.read() as session:
        assert groups.list_groups(session) == []
