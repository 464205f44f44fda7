"""`crm demo`: fill a database with generated demo data."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    demo = add_command(sub, "demo", "crm_tui.commands.admin:demo",
                       "fill the database with realistic generated data")
    demo.add_argument("--contacts", type=int, default=2000, metavar="N", help="how many contacts (default 2000)")
    demo.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (same seed, same data)")


def demo(args: argparse.Namespace) -> int:
    import sys
    import time

    from crm_tui.commands.common import print_json, wants_json
    from crm_tui.db import open_database
    from crm_tui.db.migrate import ensure_schema
    from crm_tui.services.demo import generate_demo
    from crm_tui.services.errors import ValidationError
    from crm_tui.services.identity import acting_login

    if args.contacts < 0:
        raise ValidationError("contacts", "must not be negative")
    db = open_database(getattr(args, "db", None))
    started = time.monotonic()
    try:
        ensure_schema(db)
        def progress(done: int, total: int) -> None:
            if not wants_json(args) and sys.stderr.isatty():
                print(f"\r  {done * 100 // max(total, 1)}%", end="", file=sys.stderr, flush=True)
        summary = generate_demo(db, args.contacts, seed=args.seed,
                                acting_login=acting_login(getattr(args, "user", None)), progress=progress)
    finally:
        db.dispose()
    elapsed = time.monotonic() - started
    if not wants_json(args) and sys.stderr.isatty():
        print(file=sys.stderr)
    if wants_json(args):
        print_json({"summary": summary, "seconds": round(elapsed, 1)})
    else:
        print(
            f"demo data written to {db.display_name} in {elapsed:.1f} s: {summary.contacts:,} contacts, "
            f"{summary.opportunities:,} opportunities, {summary.activities:,} activities; "
            f"users: {', '.join(summary.users)}"
        )
    return 0
