"""The `crm` command line: parse, call services, print (rich tables or --json).

Kept cheap to import: `crm --help` and `crm status` never load the ORM. Each command group lives
in `crm_tui.commands.<group>`; its handlers import services only when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from crm_tui import __version__
from crm_tui.commands import GROUPS, run_handler

EPILOG = """\
environment: CRM_DB (database), CRM_USER (acting user), CRM_NOW (freeze time, ISO 8601 with
offset), CRM_CONFIG (config file), CRM_<SECTION>_<KEY> (any setting).
config file: {config}
"""


def build_parser() -> argparse.ArgumentParser:
    from crm_tui.config import config_path

    parser = argparse.ArgumentParser(
        prog="crm",
        description="crm-tui: a keyboard-first CRM. Without a command, opens the app.",
        epilog=EPILOG.format(config=config_path()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", metavar="URL|PATH", help="database file or SQLAlchemy URL (env CRM_DB)")
    parser.add_argument("--user", metavar="LOGIN", help="act as this user (env CRM_USER; default: OS login)")
    parser.add_argument("--demo", action="store_true", help="open the app on the demo database")
    parser.add_argument("--version", action="version", version=f"crm-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in GROUPS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return run_handler("crm_tui.commands.app:open_app", args)
    handler = getattr(args, "handler", None)
    if handler is None:
        # A group without its verb, e.g. `crm contacts`: show that group's help, wrong usage.
        with contextlib.redirect_stdout(sys.stderr):
            try:
                parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "--help"])
            except SystemExit:
                pass
        return 2
    return run_handler(handler, args)


if __name__ == "__main__":
    raise SystemExit(main())
