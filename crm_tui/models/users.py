"""Users, teams and team membership."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from crm_tui.models.base import utc_column, utcnow, version_column

ROLES = ("rep", "manager", "admin")

_user_version = version_column()


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('rep','manager','admin')", name="ck_users_role"),)
    __mapper_args__ = {"version_id_col": _user_version}

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    timezone: str = Field(default="", max_length=64)
    """IANA zone; empty means the configured default."""
    role: str = Field(default="rep", max_length=16)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("created_at", False))
    version: int | None = Field(default=None, sa_column=_user_version)


_team_version = version_column()


class Team(SQLModel, table=True):
    __tablename__ = "teams"
    __mapper_args__ = {"version_id_col": _team_version}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    version: int | None = Field(default=None, sa_column=_team_version)


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_members"

    team_id: int = Field(foreign_key="teams.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE")
