"""Opening the app: `crm` and `crm --demo`."""

from __future__ import annotations

import argparse
import sys

DEMO_CONTACTS = 2000


def open_app(args: argparse.Namespace) -> int:
    from crm_tui.login import acting_login
    from crm_tui.paths import demo_db_path

    target = getattr(args, "db", None)
    if args.demo:
        target = str(demo_db_path())
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        print("crm: the app needs a terminal; see `crm --help` for the commands", file=sys.stderr)
        return 2
    from crm_tui.app import CrmApp

    app = CrmApp(db_target=target, login=acting_login(getattr(args, "user", None)),
                 demo_contacts=DEMO_CONTACTS if args.demo else 0)
    app.run()
    return app.return_code or 0
