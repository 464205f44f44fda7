"""The contact list as it opens, read straight from the SQLite file before SQLAlchemy has loaded.

Importing SQLAlchemy, SQLModel and the models costs about a second, and the contact list is the
first thing a person sees. When the database is an SQLite file at this code's schema revision and
the acting user is one of its active users, `QuickContacts` reads the list as it opens (the
default filter: archived and closed hidden; by name) with the standard library's `sqlite3`: the
same rows, in the same order, as `services.contacts.list_contacts` (a test holds them equal).
The app shows them while the workspace opens behind them, then swaps in the real source.

Anything else (a server database, an older or newer schema, an unknown user, any error) gives
None, and the app waits for the workspace as before. Read-only: `mode=ro`, `query_only`.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import date
from pathlib import Path

from crm_tui.services.rows import ContactRow, assigned_label
from crm_tui.services.states import state_of_due

HIDDEN = ("archived", "closed")
_WHERE = f"status NOT IN ({', '.join(repr(s) for s in HIDDEN)})"
_WINDOW = f"""
SELECT c.id, c.kind, c.name, c.first_name, c.company, c.status, c.city, c.phone, c.email,
       u.login, t.name, c.next_activity_due, c.customer_number
FROM (SELECT id FROM contacts WHERE {_WHERE} ORDER BY name, id LIMIT ? OFFSET ?) AS w
JOIN contacts AS c ON c.id = w.id
LEFT JOIN users AS u ON u.id = c.assigned_user_id
LEFT JOIN teams AS t ON t.id = c.assigned_team_id
ORDER BY c.name, c.id
"""
_COUNT = f"SELECT count(*) FROM contacts WHERE {_WHERE}"
BUSY_TIMEOUT_S = 10.0


def sqlite_file(target: str | os.PathLike[str] | None) -> Path | None:
    """The SQLite file `--db`/CRM_DB/the default names, or None for a server database."""
    raw = os.fspath(target) if target is not None else os.environ.get("CRM_DB") or ""
    if not raw:
        from crm_tui.paths import default_db_path

        return Path(default_db_path())
    if raw.startswith("sqlite:///"):
        raw = raw[len("sqlite:///"):]
    elif "://" in raw:
        return None
    return Path(raw).expanduser().resolve()


class QuickContacts:
    """A `RowSource` over the list as it opens (count and windows), one connection per call."""

    def __init__(self, path: Path, today: date):
        self.path = path
        self.today = today
        self._first: list[ContactRow] | None = None

    def _connect(self) -> sqlite3.Connection:
        return _connect(self.path)

    def count(self) -> int:
        with _closing(self._connect()) as conn:
            return conn.execute(_COUNT).fetchone()[0]

    def fetch(self, offset: int, limit: int) -> list[ContactRow]:
        if offset == 0 and self._first is not None and len(self._first) >= limit:
            rows = self._first[:limit]
        else:
            with _closing(self._connect()) as conn:
                rows = [self._row(r) for r in conn.execute(_WINDOW, (max(limit, 0), max(offset, 0)))]
            if offset == 0 and self._first is None:
                self._first = rows
        return rows

    def prefetch(self, limit: int) -> None:
        """Read the first window now (in the caller's thread), to be handed out at once later."""
        with _closing(self._connect()) as conn:
            self._first = [self._row(r) for r in conn.execute(_WINDOW, (limit, 0))]

    def _row(self, r: tuple) -> ContactRow:
        due = date.fromisoformat(r[11]) if r[11] else None
        return ContactRow(
            id=r[0], kind=r[1], name=r[2], first_name=r[3], company=r[4], status=r[5], city=r[6],
            phone=r[7], email=r[8], assigned_to=assigned_label(r[9], r[10]),
            state=state_of_due(due, self.today).value, customer_number=r[12],
        )


class _closing:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc) -> None:
        self.conn.close()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                           check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def open_quick(target: str | os.PathLike[str] | None, login: str) -> QuickContacts | None:
    """The quick source for this database and user, or None when the app must wait for the
    workspace (see the module docstring)."""
    from crm_tui import clock
    from crm_tui.config import get_settings
    from crm_tui.db.revision import HEAD_REVISION

    path = sqlite_file(target)
    if path is None or not path.is_file():
        return None
    try:
        with _closing(_connect(path)) as conn:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            if not revision or revision[0] != HEAD_REVISION:
                return None
            user = conn.execute(
                "SELECT timezone FROM users WHERE login = ? AND active", (login,)
            ).fetchone()
        if user is None:
            return None
        today = clock.today(user[0] or get_settings().general.timezone)
    except (sqlite3.Error, ValueError):  # not a crm-tui file, a bad zone or CRM_NOW, ...
        return None
    return QuickContacts(path, today)
