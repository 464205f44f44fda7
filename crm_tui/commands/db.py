"""`crm db upgrade|check` and `crm backup FILE`."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    group = sub.add_parser("db", help="migrations and integrity checks")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")
    add_command(verbs, "upgrade", "crm_tui.commands.db:upgrade", "bring the schema to the newest revision")
    add_command(verbs, "check", "crm_tui.commands.db:check",
                "integrity check, foreign-key check and full-text index check")
    backup = add_command(sub, "backup", "crm_tui.commands.db:backup",
                         "consistent online copy of the database")
    backup.add_argument("file", help="where to write the copy (must not exist)")


def upgrade(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import print_json, wants_json
    from crm_tui.db import open_database
    from crm_tui.db.migrate import HEAD_REVISION, current_revision, ensure_schema

    db = open_database(getattr(args, "db", None))
    try:
        before = current_revision(db)
        backup = ensure_schema(db)
    finally:
        db.dispose()
    if wants_json(args):
        print_json({"from": before, "to": HEAD_REVISION, "backup": backup})
    elif before == HEAD_REVISION:
        print(f"schema is current ({HEAD_REVISION})")
    else:
        print(f"upgraded {before or 'empty database'} -> {HEAD_REVISION}" + (f"; backup: {backup}" if backup else ""))
    return 0


def check(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import print_json, wants_json
    from crm_tui.db import open_database
    from crm_tui.db.maintenance import check_database

    db = open_database(getattr(args, "db", None))
    try:
        results = check_database(db)
    finally:
        db.dispose()
    if wants_json(args):
        print_json({"ok": all(r.ok for r in results), "checks": results})
    else:
        for result in results:
            print(f"{'ok ' if result.ok else 'BAD'}  {result.name}: {result.detail}")
    return 0 if all(r.ok for r in results) else 1


def backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from crm_tui.commands.common import print_json, wants_json
    from crm_tui.db import DatabaseError, open_database
    from crm_tui.db.migrate import backup_sqlite

    db = open_database(getattr(args, "db", None))
    try:
        if not db.is_sqlite:
            raise DatabaseError("backup: for PostgreSQL use pg_dump, e.g. `pg_dump -Fc DBNAME > FILE`")
        path = backup_sqlite(db, Path(args.file))
    finally:
        db.dispose()
    if wants_json(args):
        print_json({"backup": str(path)})
    else:
        print(f"backup written to {path}")
    return 0
