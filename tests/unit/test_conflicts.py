"""Stale saves end in a choice, never in an overwrite: classify, resolve, save again. Plus the
change counter that tells screens to refresh. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crm_tui.config import RequiredSettings, Settings
from crm_tui.services.conflicts import classify, data_version, resolve_conflict
from crm_tui.services.contacts import create_contact, get_contact, update_contact
from crm_tui.services.errors import ConflictError, FieldConflict, ValidationError

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))


def _conflict(*fields: FieldConflict, version: int = 3) -> ConflictError:
    return ConflictError("contact", 1, version, list(fields))


def test_classify_separates_real_conflicts_from_one_sided_changes():
    error = _conflict(
        FieldConflict("phone", "1", "2", "1"),  # only I changed it
        FieldConflict("city", "Olpe", "Köln", "Siegen"),  # both changed it
        FieldConflict("email", "a@x.de", "a@x.de", "b@x.de"),  # only they changed it
    )
    rows = classify(error)
    assert [(r.field, r.needs_choice, r.default) for r in rows] == [
        ("city", True, "mine"), ("phone", False, "mine"), ("email", False, "theirs"),
    ]


def test_resolve_field_by_field():
    error = _conflict(
        FieldConflict("city", "Olpe", "Köln", "Siegen"),
        FieldConflict("phone", "1", "2", "3"),
        FieldConflict("email", "a@x.de", "a@x.de", "b@x.de"),
    )
    resolution = resolve_conflict(error, {"city": "mine", "phone": "theirs"})
    assert resolution.values == {"city": "Köln"}
    assert resolution.expected_version == 3
    assert resolution.base == {"city": "Siegen", "phone": "3", "email": "b@x.de"}
    assert set(resolution.taken_theirs) == {"phone", "email"}


def test_keep_mine_and_take_theirs_for_all():
    error = _conflict(FieldConflict("city", "Olpe", "Köln", "Siegen"), FieldConflict("phone", "1", "2", "1"))
    assert resolve_conflict(error, all_="mine").values == {"city": "Köln", "phone": "2"}
    theirs = resolve_conflict(error, all_="theirs")
    assert theirs.values == {} and theirs.nothing_to_save


def test_a_real_conflict_needs_a_choice_and_choices_are_checked():
    error = _conflict(FieldConflict("city", "Olpe", "Köln", "Siegen"))
    with pytest.raises(ValidationError) as caught:
        resolve_conflict(error, {})
    assert caught.value.field == "city"
    with pytest.raises(ValidationError, match="choose mine or theirs"):
        resolve_conflict(error, {"city": "both"})
    with pytest.raises(ValidationError, match="not one of the conflicting fields"):
        resolve_conflict(error, {"city": "mine", "name": "mine"})
    with pytest.raises(ValidationError):
        resolve_conflict(error, all_="whatever")


def test_two_sessions_edit_one_contact_and_merge_field_by_field(db, people):
    """Anna and Mia load the same contact; Mia saves first; Anna's save is caught, she keeps her
    city and takes Mia's phone, and saves again with the new version: nothing is lost."""
    anna, mia = people["anna"], people["mia"]
    with db.write() as session:
        cid = create_contact(session, anna, {"name": "Weber", "city": "Olpe", "phone": "0271 1",
                                             "status": "customer", "assigned_to": "team:Nord"},
                             settings=LOOSE, auto_plan=False).id
    with db.read() as session:
        annas_form = get_contact(session, anna, cid)
        mias_form = get_contact(session, mia, cid)
    with db.write() as session:
        update_contact(session, mia, cid, {"phone": "0271 2", "email": "w@weber.de", "city": "Siegen"},
                       expected_version=mias_form.version, base=mias_form.form_values(), settings=LOOSE)
    mine = {"city": "Köln", "phone": "0271 3", "email": annas_form.email}
    with pytest.raises(ConflictError) as caught, db.write() as session:
        update_contact(session, anna, cid, mine, expected_version=annas_form.version,
                       base=annas_form.form_values(), settings=LOOSE)
    rows = {r.field: r for r in classify(caught.value)}
    assert rows["city"].needs_choice and rows["phone"].needs_choice
    assert not rows["email"].needs_choice and rows["email"].default == "theirs"
    resolution = resolve_conflict(caught.value, {"city": "mine", "phone": "theirs"})
    with db.write() as session:
        update_contact(session, anna, cid, resolution.values, expected_version=resolution.expected_version,
                       base=resolution.base, settings=LOOSE)
    with db.read() as session:
        final = get_contact(session, anna, cid)
    assert (final.city, final.phone, final.email) == ("Köln", "0271 2", "w@weber.de")
    assert final.version == annas_form.version + 2


def test_the_change_counter_moves_on_writes_only(db, people):
    with db.read() as session:
        start = data_version(session)
    with db.read() as session:
        assert session.exec(text("SELECT count(*) FROM contacts")).scalar() == 0
        assert data_version(session) == start
    with db.write() as session:
        create_contact(session, people["tester"], {"name": "Nowak", "status": "customer"},
                       settings=LOOSE, auto_plan=False)
    with db.read() as session:
        after_create = data_version(session)
    assert after_create > start
    with pytest.raises(RuntimeError), db.write() as session:  # a rolled-back write leaves no trace
        create_contact(session, people["tester"], {"name": "Kowalski", "status": "customer"},
                       settings=LOOSE, auto_plan=False)
        raise RuntimeError("changed my mind")
    with db.read() as session:
        assert data_version(session) == after_create
