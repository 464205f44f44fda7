"""Activity types (with chaining) and activities."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from crm_tui.models.base import utc_column, utcnow, version_column

CATEGORIES = ("email", "call", "meeting", "todo", "reminder", "upload")
CHAINING = ("none", "suggest", "trigger")
DELAY_UNITS = ("days", "weeks", "months")
DELAY_FROM = ("previous_deadline", "completion_date")
ACTIVITY_STATUSES = ("planned", "done", "cancelled")

_type_version = version_column()


class ActivityType(SQLModel, table=True):
    __tablename__ = "activity_types"
    __table_args__ = (
        CheckConstraint(
            "category IN ('email','call','meeting','todo','reminder','upload')",
            name="ck_activity_types_category",
        ),
        CheckConstraint("chaining IN ('none','suggest','trigger')", name="ck_activity_types_chaining"),
        CheckConstraint("delay_unit IN ('days','weeks','months')", name="ck_activity_types_unit"),
        CheckConstraint(
            "delay_from IN ('previous_deadline','completion_date')", name="ck_activity_types_from"
        ),
    )
    __mapper_args__ = {"version_id_col": _type_version}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    category: str = Field(max_length=10)
    default_assignee_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    default_summary: str = Field(default="", max_length=200)
    default_note: str = Field(default="")
    default_reminder_minutes: int | None = Field(default=None)
    chaining: str = Field(default="none", max_length=8)
    next_type_id: int | None = Field(default=None, foreign_key="activity_types.id", ondelete="SET NULL")
    delay_count: int = Field(default=0)
    delay_unit: str = Field(default="days", max_length=8)
    delay_from: str = Field(default="previous_deadline", max_length=20)
    active: bool = Field(default=True)
    version: int | None = Field(default=None, sa_column=_type_version)


_activity_version = version_column()


class Activity(SQLModel, table=True):
    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("status IN ('planned','done','cancelled')", name="ck_activities_status"),
        # "My activities": open ones of one assignee, most urgent first.
        Index(
            "ix_activities_open_user_due",
            "assigned_user_id", "due_date", "id",
            sqlite_where=text("status = 'planned'"),
            postgresql_where=text("status = 'planned'"),
        ),
        Index(
            "ix_activities_open_team_due",
            "assigned_team_id", "due_date", "id",
            sqlite_where=text("status = 'planned'"),
            postgresql_where=text("status = 'planned'"),
        ),
        # The app's reminder notices: armed reminders of open activities, sent or not.
        Index(
            "ix_activities_remind_at",
            "remind_at",
            sqlite_where=text("status = 'planned' AND paused = 0 AND remind_at IS NOT NULL"),
            postgresql_where=text("status = 'planned' AND NOT paused AND remind_at IS NOT NULL"),
        ),
        # `crm status` and the open counts: one assignee's open ones, covering (migration 0005).
        Index(
            "ix_activities_open_user_state",
            "assigned_user_id", "paused", "due_date", "status",
            sqlite_where=text("status = 'planned'"),
            postgresql_where=text("status = 'planned'"),
        ),
        # The daemon's scan: only reminders still to send (services.reminders._armed, term for
        # term, so that SQLite matches the partial index); the one above holds sent ones too.
        Index(
            "ix_activities_reminder_armed",
            "remind_at",
            sqlite_where=text(
                "status = 'planned' AND paused = 0 AND remind_at IS NOT NULL "
                "AND (reminder_queued_for IS NULL OR reminder_queued_for != remind_at)"
            ),
            postgresql_where=text(
                "status = 'planned' AND NOT paused AND remind_at IS NOT NULL "
                "AND (reminder_queued_for IS NULL OR reminder_queued_for != remind_at)"
            ),
        ),
        # The activity report: open ones grouped by rep and type, done ones by date (0006).
        Index(
            "ix_activities_report_open",
            "assigned_user_id", "assigned_team_id", "type_id", "due_date", "status", "paused",
            sqlite_where=text("status = 'planned' AND paused = 0"),
            postgresql_where=text("status = 'planned' AND NOT paused"),
        ),
        Index(
            "ix_activities_report_done",
            "done_at", "assigned_user_id", "assigned_team_id", "type_id", "status",
            sqlite_where=text("status = 'done'"),
            postgresql_where=text("status = 'done'"),
        ),
        Index("ix_activities_contact_due", "contact_id", "due_date"),
        Index("ix_activities_opportunity_due", "opportunity_id", "due_date"),
        Index("ix_activities_due", "due_date"),
        Index("ix_activities_previous", "previous_id"),
    )
    __mapper_args__ = {"version_id_col": _activity_version}

    id: int | None = Field(default=None, primary_key=True)
    type_id: int = Field(foreign_key="activity_types.id")
    contact_id: int = Field(foreign_key="contacts.id", ondelete="CASCADE")
    opportunity_id: int | None = Field(default=None, foreign_key="opportunities.id", ondelete="SET NULL")
    summary: str = Field(default="", max_length=200)
    note: str = Field(default="")
    due_date: date
    due_time: time | None = Field(default=None)
    assigned_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    assigned_team_id: int | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    priority: int = Field(default=0)
    place: str = Field(default="", max_length=200)
    goal: str = Field(default="", max_length=200)
    reminder_minutes: int | None = Field(default=None)
    remind_at: datetime | None = Field(default=None, sa_column=utc_column("remind_at"))
    """When the reminder is due (UTC), derived from due date, time and lead time."""
    reminder_queued_for: datetime | None = Field(
        default=None, sa_column=utc_column("reminder_queued_for")
    )
    """The remind_at value whose mail is in the outbox; a reschedule re-arms the reminder."""
    status: str = Field(default="planned", max_length=10)
    paused: bool = Field(default=False)
    feedback: str = Field(default="")
    done_at: datetime | None = Field(default=None, sa_column=utc_column("done_at"))
    previous_id: int | None = Field(default=None, foreign_key="activities.id", ondelete="SET NULL")
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("created_at", False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("updated_at", False))
    version: int | None = Field(default=None, sa_column=_activity_version)
