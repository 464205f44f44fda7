"""`crm status`: one short line for a shell prompt or a tmux status bar.

It runs on every prompt, so on SQLite it reads the file with the standard library alone (no ORM,
no migration check beyond one query) and costs about as much as starting Python.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys

from crm_tui.commands.common import add_command

SEPARATOR = " · "


def register(sub) -> None:
    status = add_command(sub, "status", "crm_tui.commands.status:status",
                         'one line for prompts and tmux: "3 overdue · 2 today · 5 planned"')
    status.add_argument("--short", action="store_true", help="only the non-zero counts, e.g. '3! 2'")


def format_counts(counts: dict[str, int], short: bool = False) -> str:
    if short:
        parts = []
        if counts["overdue"]:
            parts.append(f"{counts['overdue']}!")
        if counts["today"]:
            parts.append(str(counts["today"]))
        return " ".join(parts)
    return SEPARATOR.join(f"{counts[k]} {k}" for k in ("overdue", "today", "planned"))


def _sqlite_path(target: str | None) -> str | None:
    raw = target or os.environ.get("CRM_DB") or ""
    if not raw:
        from crm_tui.paths import default_db_path

        return str(default_db_path())
    if raw.startswith("sqlite:///"):
        return raw[len("sqlite:///"):]
    if "://" in raw:
        return None
    return os.path.expanduser(raw)


def _fast_counts(path: str, login: str) -> dict[str, int] | None:
    """Counts straight from the file, or None when the slow path must decide."""
    from crm_tui import clock
    from crm_tui.config import get_settings
    from crm_tui.db.revision import HEAD_REVISION

    if not os.path.exists(path):
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        conn.execute("PRAGMA query_only = ON")
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if not revision or revision[0] != HEAD_REVISION:
            return None
        user = conn.execute("SELECT id, timezone FROM users WHERE login = ? AND active", (login,)).fetchone()
        if user is None:
            return None
        today = clock.today(user[1] or get_settings().general.timezone).isoformat()
        row = conn.execute(
            "SELECT count(CASE WHEN due_date < ?1 THEN 1 END), count(CASE WHEN due_date = ?1 THEN 1 END),"
            " count(CASE WHEN due_date > ?1 THEN 1 END) FROM activities"
            " WHERE assigned_user_id = ?2 AND status = 'planned' AND paused = 0",
            (today, user[0]),
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return {"overdue": row[0], "today": row[1], "planned": row[2]}


def status(args: argparse.Namespace) -> int:
    from crm_tui.login import acting_login

    login = acting_login(getattr(args, "user", None))
    path = _sqlite_path(getattr(args, "db", None))
    counts = _fast_counts(path, login) if path else None
    if counts is None:
        from crm_tui.commands.common import open_context
        from crm_tui.services.activities import open_counts

        with open_context(args) as ctx, ctx.db.read() as session:
            counts = open_counts(session, ctx.actor)
    if getattr(args, "json", False):
        json.dump(counts, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(format_counts(counts, args.short))
    return 0
