"""Database engines, session scopes and migrations.

Importing this package is cheap; the engine module (and SQLAlchemy) loads on first use, so
`crm --help` and `crm status` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_tui.db.engine import Database, DatabaseError, open_database, resolve_url

__all__ = ["Database", "DatabaseError", "open_database", "resolve_url"]


def __getattr__(name: str):
    if name in __all__:
        from crm_tui.db import engine

        return getattr(engine, name)
    raise AttributeError(name)
