"""Users service: list, add, edit; roles, teams, time zones; who may; the last admin; the first
user of an empty database; an unknown login. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from crm_tui.models import HistoryEntry, Team, User
from crm_tui.services.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from crm_tui.services.identity import resolve_actor
from crm_tui.services.users import add_user, get_user, list_teams, list_users, update_user


def write(db, work):
    with db.write() as session:
        return work(session)


def read(db, work):
    with db.read() as session:
        return work(session)


def user_count(db) -> int:
    return read(db, lambda s: s.exec(select(func.count()).select_from(User)).one())


def test_the_first_login_becomes_admin_and_strangers_are_told_whom_to_ask(db):
    first = write(db, lambda s: resolve_actor(s, "olga"))
    assert first.role == "admin"
    with pytest.raises(PermissionDenied, match=r"'piotr' is not a user.*ask olga.*crm users add --login piotr"):
        write(db, lambda s: resolve_actor(s, "piotr"))
    assert user_count(db) == 1


def test_admin_adds_a_user_with_teams_role_and_zone(db, people):
    admin = people["tester"]
    write(db, lambda s: add_user(s, admin, {
        "login": "zofia", "name": "Zofia Zielińska", "email": "zz@example.test",
        "timezone": "Europe/Warsaw", "role": "manager", "teams": "Nord, Ost",
    }))
    zofia = read(db, lambda s: get_user(s, "zofia"))
    assert (zofia.name, zofia.role, zofia.timezone, zofia.teams, zofia.active) == (
        "Zofia Zielińska", "manager", "Europe/Warsaw", ("Nord", "Ost"), True)
    teams = {t.name: t.members for t in read(db, list_teams)}
    assert teams["Nord"] == ("anna", "mia", "zofia") and teams["Ost"] == ("zofia",)
    # and she acts with those teams at once
    actor = write(db, lambda s: resolve_actor(s, "zofia"))
    assert actor.role == "manager" and len(actor.team_ids) == 2 and actor.timezone == "Europe/Warsaw"
    logins = [u.login for u in read(db, list_users)]
    assert logins == sorted(logins) and "zofia" in logins


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"login": ""}, "login"),
        ({"login": "has space"}, "login"),
        ({"login": "anna"}, "login"),  # exists
        ({"login": "x", "timezone": "Europe/Atlantis"}, "timezone"),
        ({"login": "x", "role": "king"}, "role"),
        ({"login": "x", "email": "not-mail"}, "email"),
        ({"login": "x", "teams": ["a" * 101]}, "teams"),
        ({"login": "x", "shoe": "44"}, "shoe"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(db, people, values, field):
    before = user_count(db)
    with pytest.raises(ValidationError) as caught:
        write(db, lambda s: add_user(s, people["tester"], values))
    assert caught.value.field == field
    assert user_count(db) == before


@pytest.mark.parametrize("login", ["anna", "mia"])
def test_only_an_admin_adds_or_changes_users(db, people, login):
    actor = people[login]
    with pytest.raises(PermissionDenied, match="only an admin"):
        write(db, lambda s: add_user(s, actor, {"login": "eve"}))
    with pytest.raises(PermissionDenied, match="only an admin"):
        write(db, lambda s: update_user(s, actor, "ben", {"role": "admin"}))
    with pytest.raises(PermissionDenied, match="only an admin may change role"):
        write(db, lambda s: update_user(s, actor, login, {"role": "admin"}))
    assert read(db, lambda s: get_user(s, login)).role == people[login].role
    # their own name, e-mail and time zone they may change
    write(db, lambda s: update_user(s, actor, login, {"timezone": "America/New_York", "name": "New"}))
    assert read(db, lambda s: get_user(s, login)).timezone == "America/New_York"


def test_edit_teams_role_and_active_with_history(db, people):
    admin = people["tester"]
    write(db, lambda s: update_user(s, admin, "anna", {"teams": ["Süd", "West"], "role": "manager"}))
    anna = read(db, lambda s: get_user(s, "anna"))
    assert anna.teams == ("Süd", "West") and anna.role == "manager"
    assert read(db, lambda s: s.exec(select(Team.name).where(Team.name == "West")).first()) == "West"
    write(db, lambda s: update_user(s, admin, "anna", {"active": False}))
    with pytest.raises(PermissionDenied, match="deactivated"):
        write(db, lambda s: resolve_actor(s, "anna"))
    rows = read(db, lambda s: s.exec(
        select(HistoryEntry.field, HistoryEntry.old_value, HistoryEntry.new_value)
        .where(HistoryEntry.subject == "user anna").order_by(HistoryEntry.id)
    ).all())
    assert [tuple(r) for r in rows] == [
        ("role", "rep", "manager"), ("teams", "Nord", "Süd, West"), ("active", "True", "False"),
    ]


def test_only_teams_changed_still_makes_a_new_version(db, people):
    before = read(db, lambda s: get_user(s, "ben")).version
    write(db, lambda s: update_user(s, people["tester"], "ben", {"teams": "Nord"}))
    assert read(db, lambda s: get_user(s, "ben")).version == before + 1


def test_the_last_admin_stays(db, people):
    admin = people["tester"]
    with pytest.raises(ValidationError, match="last active admin") as caught:
        write(db, lambda s: update_user(s, admin, "tester", {"role": "rep"}))
    assert caught.value.field == "role"
    with pytest.raises(ValidationError, match="last active admin"):
        write(db, lambda s: update_user(s, admin, "tester", {"active": False}))
    write(db, lambda s: update_user(s, admin, "mia", {"role": "admin"}))
    write(db, lambda s: update_user(s, admin, "tester", {"role": "rep"}))
    assert read(db, lambda s: get_user(s, "tester")).role == "rep"


def test_login_cannot_change_and_unknown_user(db, people):
    with pytest.raises(ValidationError, match="login"):
        write(db, lambda s: update_user(s, people["tester"], "anna", {"login": "anka"}))
    with pytest.raises(NotFound):
        write(db, lambda s: update_user(s, people["tester"], "nobody", {"name": "x"}))


def test_stale_user_form_is_a_conflict(db, people):
    admin = people["tester"]
    loaded = read(db, lambda s: get_user(s, "ben"))
    write(db, lambda s: update_user(s, admin, "ben", {"timezone": "Europe/Vienna"},
                                    expected_version=loaded.version))
    with pytest.raises(ConflictError) as caught:
        write(db, lambda s: update_user(s, admin, "ben", {"timezone": "Europe/Paris", "name": "Benny"},
                                        expected_version=loaded.version, base=loaded.form_values()))
    fields = {c.field: (c.base, c.mine, c.theirs) for c in caught.value.fields}
    assert fields["timezone"] == ("Europe/Berlin", "Europe/Paris", "Europe/Vienna")
    assert fields["name"] == ("Ben Becker", "Benny", "Ben Becker")
    assert read(db, lambda s: get_user(s, "ben")).timezone == "Europe/Vienna"
