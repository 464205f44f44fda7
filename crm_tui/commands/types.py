"""`crm types list|add|edit`: activity types, their defaults and their chaining."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command

TYPE_OPTIONS = (
    # field, option names, help
    ("name", ("--name",), "the type's name, e.g. Anruf"),
    ("category", ("--category",), "email, call, meeting, todo, reminder or upload"),
    ("default_assignee", ("--default-assignee", "--assigned-to"),
     "login that new activities of this type go to (none: whoever plans them)"),
    ("default_summary", ("--default-summary", "--summary"), "summary pre-filled in the form"),
    ("default_note", ("--default-note", "--note"), "note pre-filled in the form"),
    ("default_reminder_minutes", ("--default-reminder-minutes", "--reminder"),
     "reminder lead time in minutes (none: no reminder)"),
    ("chaining", ("--chaining",), "none, suggest (propose the next) or trigger (create it at once)"),
    ("next_type", ("--next-type",), "the next activity's type (needed unless chaining is none)"),
    ("delay_count", ("--delay-count",), "the next one is due this many units later"),
    ("delay_unit", ("--delay-unit",), "days, weeks or months"),
    ("delay_from", ("--delay-from",), "previous_deadline (default) or completion_date"),
)


def _options(parser: argparse.ArgumentParser) -> None:
    for field, names, help_ in TYPE_OPTIONS:
        parser.add_argument(*names, dest=f"field_{field}", metavar="VALUE", help=help_)
    parser.add_argument("--delay", metavar="SHIFT", help="count and unit at once: 3d, 1w, 2m")


def register(sub) -> None:
    group = sub.add_parser("types", help="activity types and their chaining")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")

    listing = add_command(verbs, "list", "crm_tui.commands.types:list_", "list activity types")
    listing.add_argument("--active", action="store_true", help="only active types")

    add = add_command(verbs, "add", "crm_tui.commands.types:add", "add an activity type (admins)")
    _options(add)

    edit = add_command(verbs, "edit", "crm_tui.commands.types:edit",
                       "change an activity type (admins)")
    edit.add_argument("type", metavar="ID|NAME")
    _options(edit)
    edit.add_argument("--active", metavar="yes|no", dest="field_active",
                      help="no: hide it from new activities")
    edit.add_argument("--if-version", type=int, metavar="N",
                      help="refuse if the type changed since version N")


def _values(args: argparse.Namespace) -> dict[str, object]:
    from crm_tui.services.errors import ValidationError

    values = {f: getattr(args, f"field_{f}") for f, _n, _h in TYPE_OPTIONS
              if getattr(args, f"field_{f}", None) is not None}
    if getattr(args, "field_active", None) is not None:
        values["active"] = args.field_active
    if args.delay is not None:
        from crm_tui.services.activities import parse_shift

        count, unit = parse_shift(args.delay, "delay")
        if count < 0:
            raise ValidationError("delay", "must not be negative")
        values.setdefault("delay_count", count)
        values.setdefault("delay_unit", unit)
    return values


def _print_types(rows) -> None:
    """One line per type, narrow enough for 80 columns: id, name (category), chaining, defaults."""
    width = max((len(r.name) + len(r.category) + 3 for r in rows), default=0)
    for r in rows:
        head = f"{r.name} ({r.category})"
        chain = "" if r.chaining == "none" else f"{r.chaining} → {r.next_type} {r.delay_text}"
        extras = [f"remind {r.default_reminder_minutes} min"] if r.default_reminder_minutes is not None else []
        if r.default_assignee:
            extras.append(f"to {r.default_assignee}")
        if not r.active:
            extras.append("inactive")
        tail = " · ".join(part for part in (chain, ", ".join(extras)) if part)
        print(f"{r.id:>3}  {head:<{width}}  {tail}".rstrip())


def list_(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.activity_types import list_types

    with open_context(args) as ctx, ctx.db.read() as session:
        rows = list_types(session, include_inactive=not args.active)
    if ctx.json:
        print_json(rows)
    else:
        _print_types(rows)
    return 0


def add(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.activity_types import add_type, get_type

    values = _values(args)
    with open_context(args) as ctx:
        def work(session):
            return get_type(session, add_type(session, ctx.actor, values).id)

        row = ctx.workspace.write(work)
    if ctx.json:
        print_json(row)
    else:
        print(f"added activity type {row.id}: {row.name} ({row.category})")
    return 0


def edit(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.activity_types import edit_type, get_type

    values = _values(args)
    if not values:
        raise UsageError("types edit: give at least one field to change, e.g. --chaining suggest")
    with open_context(args) as ctx:
        def work(session):
            kind = edit_type(session, ctx.actor, args.type, values, expected_version=args.if_version)
            return get_type(session, kind.id)

        row = ctx.workspace.write(work)
    if ctx.json:
        print_json(row)
    else:
        print(f"saved activity type {row.id}: {row.name} (version {row.version})")
    return 0
