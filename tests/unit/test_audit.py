"""The audit trail: every create, change, assignment, lock, unlock, status change, merge and
delete is a history row with who and when; a contact's history reads newest first, in windows,
and outlives the contact. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from crm_tui.config import RequiredSettings, Settings
from crm_tui.models import Activity, Contact, HistoryEntry, Opportunity
from crm_tui.services.activities import plan_activity
from crm_tui.services.audit import (
    count_history,
    delete_contacts,
    history_of_deleted,
    list_history,
    record_assignment,
    record_merge,
    record_status,
)
from crm_tui.services.contacts import create_contact, update_contact
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.locks import lock_info, release_lock

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))


@pytest.fixture(autouse=True)
def _defaults(db, people):
    """Activity types and pipelines, as every opened workspace has them."""
    from crm_tui.services.defaults import install_defaults

    with db.write() as session:
        install_defaults(session)


def add(db, actor, **values) -> int:
    values.setdefault("status", "customer")
    with db.write() as session:
        return create_contact(session, actor, values, settings=LOOSE, auto_plan=False).id


def history(db, actor, **where) -> list:
    with db.read() as session:
        return list_history(session, actor, limit=500, **where)


def test_a_contacts_life_is_written_down_newest_first(db, people, frozen_now):
    anna, mia = people["anna"], people["mia"]
    frozen_now("2026-11-23T09:00:00+01:00")
    cid = add(db, anna, name="Kowalski", first_name="Jan", status="prospect", phone="0171 1")
    frozen_now("2026-11-23T10:00:00+01:00")
    with db.write() as session:
        update_contact(session, anna, cid, {"city": "Olpe", "assigned_to": "team:Nord"}, settings=LOOSE)
    frozen_now("2026-11-23T11:00:00+01:00")
    with db.write() as session:
        release_lock(session, mia, cid)
    frozen_now("2026-11-23T12:00:00+01:00")
    with db.write() as session:
        plan_activity(session, anna, {"type": "call", "contact_id": cid, "due": "2026-11-24"}, settings=LOOSE)
        record_status(session, anna, session.get(Contact, cid), "prospect", "customer", note="signed")
    rows = history(db, anna, contact_id=cid)
    assert [(r.user, r.action, r.field) for r in rows] == [
        ("anna", "status", "status"),
        ("anna", "activity_planned", ""),
        ("mia", "unlock", "locked_by"),
        ("anna", "change", "assigned_team"),
        ("anna", "change", "city"),
        ("anna", "lock", ""),
        ("anna", "create", ""),
    ]
    assert [r.at.isoformat() for r in rows][-1] == "2026-11-23T08:00:00+00:00"
    change = rows[3]
    assert (change.old_value, change.new_value) == ("", "Nord")
    assert rows[-1].subject == f"contact {cid} Kowalski, Jan"
    assert rows[0].summary.startswith("status contact")
    assert rows[4].summary == "city: — → Olpe"


def test_history_is_read_in_windows(db, people):
    tester = people["tester"]
    cid = add(db, tester, name="Nowak")
    for number in range(12):
        with db.write() as session:
            update_contact(session, tester, cid, {"city": f"City {number}"}, settings=LOOSE)
    with db.read() as session:
        first = list_history(session, tester, contact_id=cid, limit=5)
        second = list_history(session, tester, contact_id=cid, offset=5, limit=5)
        total = count_history(session, contact_id=cid)
    assert total == 13
    assert [r.new_value for r in first] == [f"City {n}" for n in (11, 10, 9, 8, 7)]
    assert [r.new_value for r in second] == [f"City {n}" for n in (6, 5, 4, 3, 2)]
    with db.read() as session, pytest.raises(ValidationError):
        list_history(session, tester, contact_id=cid, opportunity_id=1)
    with db.read() as session, pytest.raises(ValidationError, match="limit"):
        list_history(session, tester, contact_id=cid, limit=10_000)


def test_deleting_keeps_name_and_who(db, people):
    tester = people["tester"]
    cid = add(db, tester, name="Schmidt", first_name="Eva", phone="0271 5")
    other = add(db, tester, name="Bleibt")
    from crm_tui.services.opportunities import create_opportunity

    with db.write() as session:
        plan_activity(session, tester, {"type": "call", "contact_id": cid, "due": "2030-01-07"}, settings=LOOSE)
        opp = create_opportunity(session, tester, {"title": "Dach", "contact": cid}, settings=LOOSE).id
    with db.write() as session:
        deleted = delete_contacts(session, tester, [cid])
    assert [(d.id, d.name) for d in deleted] == [(cid, "Schmidt, Eva")]
    with db.read() as session:
        assert session.get(Contact, cid) is None and session.get(Contact, other) is not None
        assert session.get(Opportunity, opp) is None
        assert session.exec(select(func.count()).select_from(Activity).where(Activity.contact_id == cid)).one() == 0
        gone = history_of_deleted(session, cid)
    assert gone is not None and gone.user == "tester" and "Schmidt, Eva" in gone.subject
    rows = history(db, tester, contact_id=cid)
    assert rows[0].action == "delete"
    assert {r.subject for r in rows if r.action == "delete"} == {f"contact {cid} Schmidt, Eva", f"opportunity {opp} Dach"}
    assert history(db, tester, opportunity_id=opp)[0].action == "delete"


def test_a_refused_delete_deletes_nothing(db, people):
    anna, tester = people["anna"], people["tester"]
    annas = add(db, tester, name="Annas", assigned_to="anna")
    teams = add(db, tester, name="Teams", assigned_to="team:Nord")
    bens = add(db, tester, name="Bens", assigned_to="ben")
    before = history(db, tester, contact_id=annas)
    with pytest.raises(PermissionDenied, match=r"nothing deleted: contact \d+: .*\(and 1 more\)"):
        with db.write() as session:
            delete_contacts(session, anna, [annas, teams, bens])
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Contact)).one() == 3
        assert session.exec(
            select(func.count()).select_from(HistoryEntry).where(HistoryEntry.action == "delete")
        ).one() == 0
    assert history(db, tester, contact_id=annas) == before
    with db.write() as session:  # her own she may delete
        delete_contacts(session, anna, [annas])
    with pytest.raises(NotFound), db.write() as session:
        delete_contacts(session, tester, [annas])
    with pytest.raises(ValidationError), db.write() as session:
        delete_contacts(session, tester, [])


def test_lock_info_and_release_rules(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    anna, ben, mia = people["anna"], people["ben"], people["mia"]
    cid = add(db, anna, name="Lockie", status="prospect")
    with db.read() as session:
        info = lock_info(session, cid)
    assert info.locked and info.locked_by == "anna" and info.locked_until.date().isoformat() == "2027-05-23"
    with pytest.raises(PermissionDenied, match="only a manager"), db.write() as session:
        release_lock(session, ben, cid)
    with db.write() as session:
        release_lock(session, mia, cid)
    with db.read() as session:
        assert not lock_info(session, cid).locked
    with db.write() as session:  # nothing to release: no second history row
        release_lock(session, mia, cid)
    assert [r.action for r in history(db, anna, contact_id=cid)].count("unlock") == 1
    with pytest.raises(NotFound), db.read() as session:
        lock_info(session, 4242)


def test_assignment_and_merge_rows(db, people):
    tester = people["tester"]
    survivor, merged = add(db, tester, name="Müller"), add(db, tester, name="Mueller")
    with db.write() as session:
        contact = session.get(Contact, survivor)
        record_assignment(session, tester, contact, None, "anna")
        record_merge(session, tester, contact, [(merged, "Mueller")])
    rows = history(db, tester, contact_id=survivor)
    assert (rows[0].action, rows[0].old_value, rows[0].new_value) == ("merge", f"contact {merged} Mueller", f"contact {survivor}")
    assert (rows[1].action, rows[1].old_value, rows[1].new_value) == ("assign", "everybody", "anna")
    assert history(db, tester, contact_id=merged)[0].new_value == f"contact {survivor} Müller"
