"""Contacts, number sequences, groups and lost reasons."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from crm_tui.models.base import money_column, utc_column, utcnow, version_column

CONTACT_STATUSES = ("inbox", "prospect", "customer", "archived", "closed")
CONTACT_KINDS = ("person", "company")
DUPLICATE_KEYS = ("name_key", "company_key", "email_key", "email_domain", "phone_key", "mobile_key")
"""Derived columns the duplicate check looks up (kept by contacts.refresh_derived)."""

_contact_version = version_column()
_EMPTY_DEFAULT = {"server_default": text("''")}
"""Columns added after rows existed get '' in the database too (raw inserts, old rows)."""


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(
            "status IN ('inbox','prospect','customer','archived','closed')", name="ck_contacts_status"
        ),
        CheckConstraint("kind IN ('person','company')", name="ck_contacts_kind"),
        # The list's sort orders (services.contacts.SORTS), each ending in the status: the
        # default filter (archived and closed hidden) and status filters are checked in the
        # index, so a window at any offset and a count never read the table (migration 0005).
        Index("ix_contacts_name_id", "name", "id", "status"),
        Index("ix_contacts_status_name", "status", "name", "id"),
        Index("ix_contacts_company_id", "company", "id", "status"),
        Index("ix_contacts_city_id", "city", "id", "status"),
        Index("ix_contacts_number_id", "customer_number", "id", "status"),
        Index("ix_contacts_created_at", "created_at", "id", "status"),
        Index("ix_contacts_next_due", "next_activity_due", "id", "status"),
        Index("ix_contacts_assigned_user", "assigned_user_id", "name", "id", "status"),
        Index("ix_contacts_assigned_team", "assigned_team_id", "name", "id", "status"),
        # `city:`, `country:`, `source:` filters compare lower(column) = lower(value).
        *(Index(f"ix_contacts_{name}_lower", text(f"lower({name})")) for name in ("city", "country", "source")),
        Index("ix_contacts_phone_digits", "phone_digits"),
        Index("ix_contacts_email", "email"),
        # Duplicate check (services/duplicates.py): exact lookups on normalised keys. Partial,
        # so the many empty keys (no mobile, no e-mail) cost nothing; queries say `<> ''`.
        *(
            Index(
                f"ix_contacts_{key}", key,
                sqlite_where=text(f"{key} <> ''"), postgresql_where=text(f"{key} <> ''"),
            )
            for key in DUPLICATE_KEYS
        ),
        Index(
            "ux_contacts_customer_number",
            "customer_number",
            unique=True,
            sqlite_where=text("customer_number IS NOT NULL"),
            postgresql_where=text("customer_number IS NOT NULL"),
        ),
    )
    __mapper_args__ = {"version_id_col": _contact_version}

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="person", max_length=10)
    name: str = Field(max_length=200)
    """Last name for a person, the company name for a company."""
    first_name: str = Field(default="", max_length=100)
    company: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=50)
    mobile: str = Field(default="", max_length=50)
    phone_digits: str = Field(default="", max_length=50)
    """Digits of phone and mobile, for search and duplicate checks."""
    street: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)
    region: str = Field(default="", max_length=100)
    """State or region (Bundesland, województwo)."""
    country: str = Field(default="", max_length=100)
    source: str = Field(default="", max_length=100)
    description: str = Field(default="")
    expected_revenue: Decimal | None = Field(default=None, sa_column=money_column("expected_revenue"))
    currency: str = Field(default="EUR", max_length=3)
    contacted_on: date | None = Field(default=None, index=True)
    status: str = Field(default="prospect", max_length=16)
    customer_number: str | None = Field(default=None, max_length=50)
    assigned_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    assigned_team_id: int | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    """Neither user nor team: assigned to everybody."""
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    locked_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    locked_until: datetime | None = Field(default=None, sa_column=utc_column("locked_until"))
    lost_reason_id: int | None = Field(default=None, foreign_key="lost_reasons.id")
    close_note: str = Field(default="")
    next_activity_due: date | None = Field(default=None)
    """Earliest due date of the open, unpaused activities: the activity state in one column."""
    search_key: str = Field(default="")
    """Folded words for the full-text index ("Müller" -> "muller mueller")."""
    name_key: str = Field(default="", max_length=200, sa_column_kwargs=_EMPTY_DEFAULT)
    """Duplicate check: folded name words, sorted, legal forms dropped ("anna mul" for Anna Müller)."""
    company_key: str = Field(default="", max_length=200, sa_column_kwargs=_EMPTY_DEFAULT)
    """The same of the company (a company's own name when its company field is empty)."""
    email_key: str = Field(default="", max_length=254, sa_column_kwargs=_EMPTY_DEFAULT)
    """The e-mail address in lower case."""
    email_domain: str = Field(default="", max_length=254, sa_column_kwargs=_EMPTY_DEFAULT)
    phone_key: str = Field(default="", max_length=50, sa_column_kwargs=_EMPTY_DEFAULT)
    """The phone number's digits in national form ("+49 2761 1234" -> "027611234")."""
    mobile_key: str = Field(default="", max_length=50, sa_column_kwargs=_EMPTY_DEFAULT)
    previous_status: str = Field(default="", max_length=16, sa_column_kwargs=_EMPTY_DEFAULT)
    """The status before archiving or closing: what `restore` returns to."""
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=utc_column("created_at", False)
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("updated_at", False))
    version: int | None = Field(default=None, sa_column=_contact_version)


_sequence_version = version_column()


class NumberSequence(SQLModel, table=True):
    """Customer numbers such as K-2026-00042: prefix (may hold {year}), padding, next value."""

    __tablename__ = "number_sequences"
    __mapper_args__ = {"version_id_col": _sequence_version}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    prefix: str = Field(default="", max_length=50)
    padding: int = Field(default=5)
    next_value: int = Field(default=1)
    version: int | None = Field(default=None, sa_column=_sequence_version)


_group_version = version_column()


class ContactGroup(SQLModel, table=True):
    """A static group (members listed) or a dynamic one (a stored filter query)."""

    __tablename__ = "contact_groups"
    __table_args__ = (CheckConstraint("kind IN ('static','dynamic')", name="ck_groups_kind"),)
    __mapper_args__ = {"version_id_col": _group_version}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    number: str = Field(default="", max_length=50)
    kind: str = Field(default="static", max_length=10)
    query: str = Field(default="")
    assigned_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column("created_at", False))
    version: int | None = Field(default=None, sa_column=_group_version)


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_members"

    group_id: int = Field(foreign_key="contact_groups.id", primary_key=True, ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contacts.id", primary_key=True, index=True, ondelete="CASCADE")


class LostReason(SQLModel, table=True):
    __tablename__ = "lost_reasons"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    active: bool = Field(default=True)
