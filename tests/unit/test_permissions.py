"""The permission matrix: role × action × assignment × lock, through the real services, on SQLite
and PostgreSQL. Every refused action says why and changes nothing.

One database per backend holds the team and one contact per (assignment, lock) pair; every case
runs in a write transaction that is rolled back, so the cases cannot disturb each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from crm_tui.config import RequiredSettings, Settings
from crm_tui.db.engine import Database, open_database
from crm_tui.db.migrate import ensure_schema
from crm_tui.models import Activity, Contact, HistoryEntry, Team, TeamMember, User
from crm_tui.services.activities import plan_activity
from crm_tui.services.audit import delete_contacts
from crm_tui.services.contacts import get_contact, update_contact
from crm_tui.services.defaults import install_defaults
from crm_tui.services.errors import PermissionDenied
from crm_tui.services.identity import actor_for
from crm_tui.services.locks import release_lock
from crm_tui.services.permissions import (
    CONTACT_ACTIONS,
    ContactFacts,
    allowed_actions,
    check_configure,
    check_contact,
    check_user_edit,
    decide,
)

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))
FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
PAST = datetime(2000, 1, 1, tzinfo=UTC)

PEOPLE = [
    # login, role, team
    ("tester", "admin", None),
    ("anna", "rep", "Nord"),
    ("ben", "rep", "Süd"),
    ("mia", "manager", "Nord"),
    ("max", "rep", "Nord"),
]
ROLES = {"rep": "anna", "manager": "mia", "admin": "tester"}
"""The actor playing each role. anna and mia are both in Nord; ben is in Süd."""

ASSIGNMENTS = ("self", "teammate", "own_team", "everybody", "other_user", "other_team")
LOCKS = ("none", "mine", "teammate", "other", "expired", "customer")
"""none; held by the actor; by a member of the actor's team; by ben (Süd); ben's, expired;
ben's lock fields on a customer (a lock binds only prospects)."""


def _assignee(login: str, assignment: str) -> str | None:
    teammate = "max" if login != "max" else "anna"
    return {
        "self": login, "teammate": teammate, "own_team": "team:Nord", "everybody": None,
        "other_user": "ben", "other_team": "team:Süd",
    }[assignment]


def _lock(login: str, lock: str) -> tuple[str | None, datetime | None, str]:
    """(holder, until, status)."""
    teammate = "max" if login != "max" else "anna"
    return {
        "none": (None, None, "prospect"),
        "mine": (login, FUTURE, "prospect"),
        "teammate": (teammate, FUTURE, "prospect"),
        "other": ("ben", FUTURE, "prospect"),
        "expired": ("ben", PAST, "prospect"),
        "customer": ("ben", FUTURE, "customer"),
    }[lock]


# -- the rules, written out as the product states them -----------------------------------------

IN_SCOPE = {
    # who may change a contact by its assignment (locks aside)
    "rep": {"self", "own_team", "everybody"},
    "manager": {"self", "teammate", "own_team", "everybody"},
    "admin": set(ASSIGNMENTS),
}


def expected(role: str, action: str, assignment: str, lock: str) -> bool:
    blocked_by_lock = lock in ("teammate", "other") and role == "rep"
    if action == "view":
        return True
    if role == "admin":
        return True
    if action == "release_lock":
        if role == "rep":
            return False
        # a manager: nothing to release, or within their teams (contact or lock holder)
        return lock not in ("other",) or assignment in IN_SCOPE[role]
    if action == "plan":
        return not blocked_by_lock
    if blocked_by_lock:
        return False
    if action == "delete" and role == "rep":
        return assignment == "self"
    return assignment in IN_SCOPE[role]


# -- the world ---------------------------------------------------------------------------------


def _build(db: Database) -> dict:
    settings = Settings()
    with db.write() as session:
        install_defaults(session)
        teams = {name: Team(name=name) for name in ("Nord", "Süd")}
        session.add_all(teams.values())
        session.flush()
        users = {}
        for login, role, team in PEOPLE:
            user = User(login=login, name=login.title(), role=role, email=f"{login}@example.test")
            session.add(user)
            session.flush()
            if team:
                session.add(TeamMember(team_id=teams[team].id, user_id=user.id))
            users[login] = user
        session.flush()
        actors = {login: actor_for(session, u, settings) for login, u in users.items()}
        contacts = {}
        for role, login in ROLES.items():
            for assignment, lock in itertools.product(ASSIGNMENTS, LOCKS):
                assignee = _assignee(login, assignment)
                holder, until, status = _lock(login, lock)
                contact = Contact(
                    name=f"{role}-{assignment}-{lock}", status=status, city="Olpe",
                    assigned_user_id=users[assignee].id if assignee and ":" not in assignee else None,
                    assigned_team_id=teams[assignee[5:]].id if assignee and ":" in assignee else None,
                    locked_by_id=users[holder].id if holder else None, locked_until=until,
                )
                session.add(contact)
                session.flush()
                contacts[(role, assignment, lock)] = contact.id
    return {"db": db, "actors": actors, "contacts": contacts}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request, tmp_path_factory) -> Iterator[dict]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("permissions") / "crm.sqlite3"
        db = open_database(path)
        ensure_schema(db, backup=False)
        try:
            yield _build(db)
        finally:
            db.dispose()
        return
    server = request.getfixturevalue("pg_server")
    name = server.create_database(template=request.getfixturevalue("_pg_template"))
    db = open_database(server.url(name))
    try:
        ensure_schema(db)
        yield _build(db)
    finally:
        db.dispose()
        server.drop_database(name)


class _Undo(Exception):
    """Raised at the end of a case to roll its transaction back."""


def _snapshot(session, contact_id: int) -> tuple:
    contact = session.get(Contact, contact_id)
    row = None if contact is None else (
        contact.city, contact.assigned_user_id, contact.assigned_team_id, contact.locked_by_id,
        contact.locked_until, contact.version,
    )
    activities = session.exec(
        select(func.count()).select_from(Activity).where(Activity.contact_id == contact_id)
    ).one()
    history = session.exec(select(func.count()).select_from(HistoryEntry)).one()
    return row, activities, history


def _do(session, actor, action: str, contact_id: int) -> None:
    if action == "view":
        get_contact(session, actor, contact_id)
    elif action == "edit":
        update_contact(session, actor, contact_id, {"city": "Siegen"}, settings=LOOSE)
    elif action == "assign":
        update_contact(session, actor, contact_id, {"assigned_to": actor.login}, settings=LOOSE)
    elif action == "status":
        # the convert/close/archive services call exactly this before changing the status
        check_contact(session, actor, session.get(Contact, contact_id), "status")
    elif action == "plan":
        plan_activity(session, actor, {"type": "call", "contact_id": contact_id, "due": "2030-01-07"},
                      settings=LOOSE)
    elif action == "delete":
        delete_contacts(session, actor, [contact_id])
    elif action == "release_lock":
        release_lock(session, actor, contact_id)
    else:  # pragma: no cover
        raise AssertionError(action)


@pytest.mark.parametrize("lock", LOCKS)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("action", CONTACT_ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(world, role, action, assignment, lock):
    db: Database = world["db"]
    actor = world["actors"][ROLES[role]]
    contact_id = world["contacts"][(role, assignment, lock)]
    allowed = expected(role, action, assignment, lock)
    with pytest.raises(_Undo), db.write() as session:
        before = _snapshot(session, contact_id)
        facts_decision = bool(decide(actor, action, _facts(session, contact_id)))
        if allowed:
            _do(session, actor, action, contact_id)
        else:
            with pytest.raises(PermissionDenied) as refused:
                _do(session, actor, action, contact_id)
            message = str(refused.value)
            assert f"contact {contact_id}" in message
            assert any(word in message for word in ("locked by", "assigned to", "only a manager",
                                                     "a rep may delete", "outside your teams"))
            assert _snapshot(session, contact_id) == before, "a refused action changed something"
        assert facts_decision == allowed
        raise _Undo


def _facts(session, contact_id: int) -> ContactFacts:
    from crm_tui.services.permissions import contact_facts

    return contact_facts(session, session.get(Contact, contact_id))


def test_refusals_name_the_lock_holder_and_date(world):
    db: Database = world["db"]
    anna = world["actors"]["anna"]
    contact_id = world["contacts"][("rep", "self", "other")]
    with db.read() as session, pytest.raises(PermissionDenied, match="locked by ben until 2100-01-01"):
        update_contact(session, anna, contact_id, {"city": "X"}, settings=LOOSE)


def test_allowed_actions_for_the_ui(world):
    db: Database = world["db"]
    anna, mia = world["actors"]["anna"], world["actors"]["mia"]
    with db.read() as session:
        bens = session.get(Contact, world["contacts"][("rep", "other_user", "other")])
        assert allowed_actions(session, anna, bens) == {"view"}
        mine = session.get(Contact, world["contacts"][("rep", "self", "none")])
        assert allowed_actions(session, anna, mine) == set(CONTACT_ACTIONS) - {"release_lock"}
        team = session.get(Contact, world["contacts"][("manager", "teammate", "teammate")])
        assert allowed_actions(session, mia, team) == set(CONTACT_ACTIONS)


def test_released_lock_is_recorded_and_frees_the_prospect(world):
    db: Database = world["db"]
    anna, mia = world["actors"]["anna"], world["actors"]["mia"]
    contact_id = world["contacts"][("rep", "own_team", "other")]  # team Nord, locked by ben
    with pytest.raises(_Undo), db.write() as session:
        with pytest.raises(PermissionDenied):
            update_contact(session, anna, contact_id, {"city": "X"}, settings=LOOSE)
        before = release_lock(session, mia, contact_id)
        assert before.locked_by == "ben"
        update_contact(session, anna, contact_id, {"city": "X"}, settings=LOOSE)
        [row] = session.exec(
            select(HistoryEntry).where(HistoryEntry.contact_id == contact_id, HistoryEntry.action == "unlock")
        ).all()
        assert row.user_login == "mia" and row.old_value.startswith("ben until 2100-01-01")
        raise _Undo


@pytest.mark.parametrize("role", ROLES)
def test_only_an_admin_configures(world, role):
    actor = world["actors"][ROLES[role]]
    if role == "admin":
        check_configure(actor, "pipelines")
        check_user_edit(actor, world["actors"]["ben"].id, {"role"})
        return
    with pytest.raises(PermissionDenied, match="only an admin"):
        check_configure(actor, "pipelines")
    with pytest.raises(PermissionDenied, match="only an admin"):
        check_user_edit(actor, world["actors"]["ben"].id, {"name"})
    with pytest.raises(PermissionDenied, match="only an admin may change role"):
        check_user_edit(actor, actor.id, {"role"})
    check_user_edit(actor, actor.id, {"timezone", "email"})  # their own personal fields


def test_unknown_action_is_a_programming_error():
    facts = ContactFacts(id=1, status="customer", assigned_user_id=None, assigned_team_id=None)
    with pytest.raises(ValueError):
        decide(actor_stub(), "fly", facts)


def actor_stub():
    from crm_tui.services.identity import Actor

    return Actor(id=1, login="x", name="X", email="", role="rep", team_ids=frozenset(), timezone="UTC")
