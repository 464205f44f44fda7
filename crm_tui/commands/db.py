"""`crm db upgrade|check|init-shared|copy` and `crm backup FILE`."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    group = sub.add_parser("db", help="migrations and integrity checks")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")
    add_command(verbs, "upgrade", "crm_tui.commands.db:upgrade", "bring the schema to the newest revision")
    add_command(verbs, "check", "crm_tui.commands.db:check",
                "integrity check, foreign-key check and full-text index check")
    shared = add_command(verbs, "init-shared", "crm_tui.commands.db:init_shared",
                         "create an SQLite database every member of a Unix group can write")
    shared.add_argument("path", help="the database file, in a folder of its own (e.g. /srv/crm/crm.sqlite3)")
    shared.add_argument("--group", required=True, help="the Unix group of the reps (e.g. crm)")
    shared.add_argument("--admin", metavar="LOGIN",
                        help="make this login the admin (default: the first user to open it)")
    copy = add_command(verbs, "copy", "crm_tui.commands.db:copy",
                       "copy this database into a new, empty one (e.g. SQLite to PostgreSQL)")
    copy.add_argument("--to", required=True, metavar="URL|PATH",
                      help="the target, e.g. postgresql+psycopg://crm@dbhost/crm")
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


def init_shared(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import print_json, wants_json
    from crm_tui.db.shared import describe_mode, init_shared

    setup = init_shared(args.path, args.group, admin=args.admin)
    if wants_json(args):
        print_json(setup)
        return 0
    print(f"shared database ready: {setup.path}")
    print(f"  folder {setup.folder}: {describe_mode(setup.folder)}")
    for file in setup.files:
        print(f"  {file}: {describe_mode(file)}")
    who = f"{setup.admin} is its admin" if setup.admin else "the first member to open it becomes its admin"
    print(f"members of group {setup.group} can now run: crm --db {setup.path}  ({who})")
    return 0


def copy(args: argparse.Namespace) -> int:
    import sys

    from crm_tui.commands.common import print_json, wants_json
    from crm_tui.db import open_database
    from crm_tui.services.copy import copy_database

    source = open_database(getattr(args, "db", None))
    try:
        target = open_database(args.to)
        try:
            def progress(table: str, rows: int) -> None:
                if not wants_json(args):
                    print(f"  {table}: {rows} rows", file=sys.stderr, flush=True)

            copied = copy_database(source, target, progress=progress)
        finally:
            target.dispose()
    finally:
        source.dispose()
    if wants_json(args):
        print_json({"from": source.display_name, "to": target.display_name, "tables": copied})
    else:
        total = sum(t.rows for t in copied)
        print(f"copied {total} rows in {len(copied)} tables from {source.display_name} to {target.display_name}")
        print(f"use it with: crm --db URL (or CRM_DB=URL), URL being {target.display_name}")
    return 0
