"""Pipelines (sales processes), their stages, and opportunities."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_tui.models.base import money_column, utc_column, utcnow, version_column

FOLLOWUP_UNITS = ("days", "weeks", "months")
OPPORTUNITY_STATUSES = ("open", "won", "lost")

_pipeline_version = version_column()


class Pipeline(SQLModel, table=True):
    __tablename__ = "pipelines"
    __table_args__ = (
        CheckConstraint("followup_unit IN ('days','weeks','months')", name="ck_pipelines_unit"),
    )
    __mapper_args__ = {"version_id_col": _pipeline_version}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    position: int = Field(default=0)
    followup_enabled: bool = Field(default=False)
    followup_interval: int = Field(default=1)
    followup_unit: str = Field(default="weeks", max_length=10)
    version: int | None = Field(default=None, sa_column=_pipeline_version)


_stage_version = version_column()


class Stage(SQLModel, table=True):
    __tablename__ = "stages"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "name", name="uq_stages_pipeline_name"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="ck_stages_probability"),
        CheckConstraint("duration_days >= 0", name="ck_stages_duration"),
        Index("ix_stages_pipeline_position", "pipeline_id", "position"),
    )
    __mapper_args__ = {"version_id_col": _stage_version}

    id: int | None = Field(default=None, primary_key=True)
    pipeline_id: int = Field(foreign_key="pipelines.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    position: int = Field(default=0)
    probability: int = Field(default=0)
    duration_days: int = Field(default=0)
    """Days an opportunity may sit here before it is rotting; 0 means never."""
    is_won: bool = Field(default=False)
    is_lost: bool = Field(default=False)
    version: int | None = Field(default=None, sa_column=_stage_version)


_opportunity_version = version_column()


class Opportunity(SQLModel, table=True):
    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint("status IN ('open','won','lost')", name="ck_opportunities_status"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="ck_opportunities_probability"),
        Index("ix_opportunities_board", "pipeline_id", "stage_id", "status", "next_activity_due"),
        # The board's money and rotting totals, read without the table (migration 0005).
        Index(
            "ix_opportunities_money", "pipeline_id", "status", "stage_id", "expected_revenue",
            "probability", "stage_entered_at",
        ),
        Index("ix_opportunities_stage_title", "stage_id", "status", "title", "id"),
        Index("ix_opportunities_owner", "owner_id", "status"),
        Index("ix_opportunities_contact", "contact_id"),
        Index("ix_opportunities_close", "expected_close"),
    )
    __mapper_args__ = {"version_id_col": _opportunity_version}

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    contact_id: int = Field(foreign_key="contacts.id", ondelete="CASCADE")
    pipeline_id: int = Field(foreign_key="pipelines.id")
    stage_id: int = Field(foreign_key="stages.id")
    expected_revenue: Decimal = Field(
        default=Decimal("0.00"), sa_column=money_column("expected_revenue", False)
    )
    currency: str = Field(default="EUR", max_length=3)
    probability: int = Field(default=0)
    """The effective probability: the stage's, unless overridden; 100 won, 0 lost."""
    probability_overridden: bool = Field(default=False)
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    expected_close: date | None = Field(default=None)
    description: str = Field(default="")
    stage_entered_at: datetime = Field(
        default_factory=utcnow, sa_column=utc_column("stage_entered_at", False)
    )
    status: str = Field(default="open", max_length=8)
    lost_reason_id: int | None = Field(default=None, foreign_key="lost_reasons.id")
    lost_note: str = Field(default="")
    closed_at: datetime | None = Field(default=None, sa_column=utc_column("closed_at"))
    next_activity_due: date | None = Field(default=None)
    """Earliest due date of its open, unpaused activities (the board's state in one column)."""
    followup_first_at: datetime | None = Field(default=None, sa_column=utc_column("followup_first_at"))
    """When the first follow-up mail of the current stage stay went out; reset on stage change."""
    followup_count: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("created_at", False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("updated_at", False))
    version: int | None = Field(default=None, sa_column=_opportunity_version)
