"""Column types and helpers shared by every table."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Integer, Numeric, TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime; stored naive-UTC on SQLite, as timestamptz on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def money_column(name: str, nullable: bool = True) -> Column:
    """Exact money: Decimal in a Numeric(14, 2) column."""
    return Column(name, Numeric(14, 2, asdecimal=True), nullable=nullable)


def utc_column(name: str, nullable: bool = True, index: bool = False) -> Column:
    return Column(name, UTCDateTime(), nullable=nullable, index=index)


def version_column() -> Column:
    """A fresh `version` column for one table, used as SQLAlchemy's version_id_col.

    SQLModel has no built-in optimistic locking: build the Column once, pass it to the
    field's `sa_column` and to `__mapper_args__["version_id_col"]`. Every UPDATE then
    carries `WHERE version = :loaded` and a stale edit raises StaleDataError.
    """
    return Column("version", Integer, nullable=False, server_default="1")


def utcnow() -> datetime:
    from crm_tui import clock

    return clock.now()
