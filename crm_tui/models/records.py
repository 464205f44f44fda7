"""Append-mostly records: history (the audit trail), attachments, the mail outbox, metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

from crm_tui.models.base import utc_column, utcnow

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


class HistoryEntry(SQLModel, table=True):
    """One line of the audit trail. No foreign keys: it outlives what it speaks of."""

    __tablename__ = "history"
    __table_args__ = (
        Index("ix_history_contact_at", "contact_id", "at"),
        Index("ix_history_opportunity_at", "opportunity_id", "at"),
        Index("ix_history_activity", "activity_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column("at", False))
    user_id: int | None = Field(default=None)
    user_login: str = Field(default="", max_length=64)
    contact_id: int | None = Field(default=None)
    opportunity_id: int | None = Field(default=None)
    activity_id: int | None = Field(default=None)
    action: str = Field(max_length=32)
    """create, change, delete, merge, status, assign, lock, unlock, activity, mail, note, ..."""
    subject: str = Field(default="", max_length=300)
    """What it concerns, in words (kept when the record itself is deleted)."""
    field: str = Field(default="", max_length=64)
    old_value: str = Field(default="")
    new_value: str = Field(default="")
    note: str = Field(default="")


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_contact", "contact_id"),
        Index("ix_attachments_opportunity", "opportunity_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", ondelete="CASCADE")
    opportunity_id: int | None = Field(default=None, foreign_key="opportunities.id", ondelete="SET NULL")
    activity_id: int | None = Field(default=None, foreign_key="activities.id", ondelete="SET NULL")
    filename: str = Field(max_length=255)
    mime_type: str = Field(default="application/octet-stream", max_length=100)
    size: int = Field(default=0)
    data: bytes = Field(sa_column=Column("data", LargeBinary, nullable=False))
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("created_at", False))


class OutboxMail(SQLModel, table=True):
    """Every mail leaves through here: claimed, sent, then marked sent by the daemon."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending','sending','sent','failed')", name="ck_outbox_status"),
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            sqlite_where=text("status IN ('pending','sending')"),
            postgresql_where=text("status IN ('pending','sending')"),
        ),
        Index("ix_outbox_status_created", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=16)
    """reminder, followup, mass."""
    message_id: str = Field(max_length=250)
    to_addrs: str = Field(default="")
    """Comma-separated recipients."""
    subject: str = Field(default="", max_length=300)
    body: str = Field(default="")
    status: str = Field(default="pending", max_length=10)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=utc_column("next_attempt_at", False)
    )
    lease_owner: str = Field(default="", max_length=100)
    lease_expires_at: datetime | None = Field(default=None, sa_column=utc_column("lease_expires_at"))
    last_error: str = Field(default="")
    refused: str = Field(default="")
    """Recipients the server refused, with its answer (JSON)."""
    user_id: int | None = Field(default=None)
    contact_id: int | None = Field(default=None)
    opportunity_id: int | None = Field(default=None)
    activity_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("created_at", False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column("sent_at"))


class Meta(SQLModel, table=True):
    """Small key/value facts about this database (e.g. the change counter)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(default="")
