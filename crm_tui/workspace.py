"""A workspace: one open database, the acting user and the settings.

The app, the command line and the daemon each open one; opening migrates the schema (with a
backup), installs the default configuration into an empty database and resolves the acting user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from crm_tui.config import Settings, get_settings
from crm_tui.db.engine import Database, DatabaseError, open_database
from crm_tui.db.migrate import ensure_schema
from crm_tui.services.errors import ServiceError
from crm_tui.services.identity import Actor, resolve_actor

T = TypeVar("T")


class ChangedMeanwhile(ServiceError):
    """A save lost a race the version check did not see (SQLAlchemy's StaleDataError): somebody
    else saved the same record between this transaction's read and its write. Nothing was
    written. Services catch the race earlier as a `ConflictError` (they load the row with a row
    lock); this is the safety net that keeps a traceback from ever reaching a person."""

    def __init__(self, what: str = "the record") -> None:
        super().__init__(f"{what} was changed by someone else meanwhile; reload and try again")
        self.what = what


def _stale_what(error: StaleDataError) -> str:
    """'UPDATE statement on table 'activities' expected to update 1 row(s)...' -> 'this activity'."""
    match = re.search(r"on table '([^']+)'", str(error))
    if not match:
        return "the record"
    table = match.group(1)
    singular = table[:-3] + "y" if table.endswith("ies") else table.removesuffix("s")
    return "this " + singular.replace("_", " ")


@dataclass
class Workspace:
    db: Database
    actor: Actor
    settings: Settings
    backup_path: str | None = None
    """Set when opening migrated the schema and backed the file up first."""

    def read(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a read-only session (never takes the write lock)."""
        try:
            with self.db.read() as session:
                return work(session)
        except DBAPIError as error:
            raise DatabaseError(f"database: {str(error.orig).splitlines()[0]}") from None

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one short write transaction (retried whole if the file was busy)."""
        try:
            return self.db.transact(work)
        except StaleDataError as error:
            raise ChangedMeanwhile(_stale_what(error)) from None
        except DBAPIError as error:
            raise DatabaseError(f"database: {str(error.orig).splitlines()[0]}") from None

    def refresh_actor(self) -> Actor:
        from crm_tui.models import User
        from crm_tui.services.identity import actor_for

        def load(session: Session) -> Actor:
            return actor_for(session, session.get(User, self.actor.id), self.settings)

        self.actor = self.read(load)
        return self.actor

    def close(self) -> None:
        self.db.dispose()


def open_workspace(
    target: str | os.PathLike[str] | None,
    login: str,
    *,
    settings: Settings | None = None,
    migrate: bool = True,
) -> Workspace:
    from crm_tui.services.defaults import install_defaults

    settings = settings or get_settings()
    db = open_database(target)
    try:
        backup = ensure_schema(db) if migrate else None

        def prepare(session: Session) -> Actor:
            install_defaults(session)
            return resolve_actor(session, login, settings)

        actor = db.transact(prepare)
    except DBAPIError as error:
        db.dispose()
        raise DatabaseError(f"database: {str(error.orig).splitlines()[0]}") from None
    except BaseException:
        db.dispose()
        raise
    return Workspace(db=db, actor=actor, settings=settings, backup_path=backup)
