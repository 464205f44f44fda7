"""Fixtures for service tests: a small sales team on a migrated database (SQLite or PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crm_tui.db.engine import Database
from crm_tui.models import Team, TeamMember, User
from crm_tui.services.identity import Actor, actor_for


@dataclass
class Team_:
    db: Database
    actors: dict[str, Actor]

    def __getitem__(self, login: str) -> Actor:
        return self.actors[login]


TEAM = [
    # login, name, role, team, timezone
    ("tester", "Tess Tester", "admin", None, "Europe/Berlin"),
    ("anna", "Anna Nowak", "rep", "Nord", "Europe/Warsaw"),
    ("ben", "Ben Becker", "rep", "Süd", "Europe/Berlin"),
    ("mia", "Mia Müller", "manager", "Nord", "Europe/Berlin"),
]


def make_team(db: Database) -> Team_:
    with db.write() as session:
        teams = {}
        users = []
        for login, name, role, team_name, zone in TEAM:
            user = User(login=login, name=name, role=role, timezone=zone, email=f"{login}@example.test")
            session.add(user)
            session.flush()
            if team_name:
                if team_name not in teams:
                    teams[team_name] = Team(name=team_name)
                    session.add(teams[team_name])
                    session.flush()
                session.add(TeamMember(team_id=teams[team_name].id, user_id=user.id))
            users.append(user)
        session.flush()
        actors = {u.login: actor_for(session, u) for u in users}
    return Team_(db, actors)


@pytest.fixture
def people(db: Database) -> Team_:
    """tester (admin), anna (rep, Nord), ben (rep, Süd), mia (manager, Nord)."""
    return make_team(db)
