"""`crm export activities [--format ics] [--mine] [--from DATE] [--tasks todo|event] [-o FILE]`.

iCalendar (the default) is what calendars import: khal (`khal import FILE`), calcurse
(`calcurse -i FILE`), Thunderbird, Apple and Google Calendar. Activities keep their UIDs from
one export to the next, so importing a newer file updates the entries (see `services.ical`).
"""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register_export(kinds) -> None:
    """`export activities` under `crm export` (called by `commands.exchange.register`)."""
    activities = add_command(
        kinds, "activities", "crm_tui.commands.ics:export_activities",
        "export activities as an iCalendar file (for khal, calcurse, Thunderbird, Google Calendar)",
        epilog="Activities with a time become events (VEVENT); those without, tasks for their day "
               "(VTODO) -- or all-day events with --tasks event, for calendars that ignore tasks "
               "(Google Calendar). Reminders become alarms. Re-importing a newer export updates "
               "the entries: every activity keeps its UID.",
    )
    activities.add_argument("--format", choices=("ics",), default="ics", help="ics (the default)")
    activities.add_argument("--mine", action="store_true", help="only the activities assigned to you")
    activities.add_argument("--from", dest="since", metavar="DATE",
                            help="only those due on or after DATE (2026-11-01, -30d, today, ...)")
    activities.add_argument("--tasks", choices=("todo", "event"), default="todo",
                            help="activities without a time: todo (VTODO, default) or event (all-day)")
    activities.add_argument("-o", "--output", metavar="FILE", help="write here instead of to standard output")


def export_activities(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from crm_tui.commands.common import UsageError, open_context, print_json, wants_json
    from crm_tui.services.dates import parse_optional_date
    from crm_tui.services.errors import ValidationError
    from crm_tui.services.ical import uid_domain, write_ics

    if wants_json(args) and not args.output:
        raise UsageError("export activities: --json reports on the file; write it with -o FILE")
    with open_context(args) as ctx:
        since = parse_optional_date(args.since, ctx.actor.today(), "from")
        domain = ctx.workspace.write(uid_domain)  # made once per database, then only read

        def export(handle) -> object:
            with ctx.db.read() as session:
                return write_ics(session, ctx.actor, handle, domain=domain, mine=args.mine,
                                 since=since, tasks=args.tasks, settings=ctx.settings)

        if args.output:
            path = Path(args.output).expanduser()
            try:
                handle = path.open("w", encoding="utf-8", newline="")
            except OSError as error:
                raise ValidationError("output", f"cannot write {path}: {error.strerror}") from None
            with handle:
                result = export(handle)
        else:
            result = export(sys.stdout)
    if args.output:
        if ctx.json:
            print_json({"count": result.count, "events": result.events, "todos": result.todos,
                        "format": "ics", "file": str(path)})
        else:
            print(f"exported {result.count} activities to {path} ({result.events} events, "
                  f"{result.todos} tasks)", file=sys.stderr)
    return 0
