"""`crm users list|add|edit|teams`: users, their roles, time zones and teams."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command

FIELD_HELP = {
    "login": "the user's OS login (what `--user`/CRM_USER and the SSH session give)",
    "name": "full name",
    "email": "e-mail address (reminders and follow-ups go here)",
    "timezone": "IANA time zone, e.g. Europe/Berlin (empty: the configured default)",
    "role": "rep, manager or admin",
    "teams": "comma-separated team names, e.g. Nord,Süd (new names create the team; empty: none)",
}


def _fields(parser: argparse.ArgumentParser, names) -> None:
    for name in names:
        parser.add_argument(f"--{name}", dest=f"field_{name}", metavar="VALUE", help=FIELD_HELP[name])
    active = parser.add_mutually_exclusive_group()
    active.add_argument("--active", dest="field_active", action="store_true", default=None,
                        help="the user may log in (default for a new user)")
    active.add_argument("--inactive", dest="field_active", action="store_false", default=None,
                        help="deactivate: the user can no longer open the database")


def _given(args: argparse.Namespace) -> dict[str, object]:
    names = ("login", "name", "email", "timezone", "role", "teams", "active")
    return {n: getattr(args, f"field_{n}") for n in names if getattr(args, f"field_{n}", None) is not None}


def register(sub) -> None:
    group = sub.add_parser("users", help="users, teams and roles")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")
    listing = add_command(verbs, "list", "crm_tui.commands.users:list_", "list users with role and teams")
    listing.add_argument("--active-only", action="store_true", help="leave out deactivated users")
    add = add_command(verbs, "add", "crm_tui.commands.users:add", "add a user (admin only)")
    _fields(add, ("login", "name", "email", "timezone", "role", "teams"))
    edit = add_command(verbs, "edit", "crm_tui.commands.users:edit",
                       "change a user (admin; anybody: own name, e-mail, time zone)")
    edit.add_argument("login", help="the user to change")
    _fields(edit, ("name", "email", "timezone", "role", "teams"))
    edit.add_argument("--if-version", type=int, metavar="N", help="refuse if the user changed since version N")
    add_command(verbs, "teams", "crm_tui.commands.users:teams", "list teams and their members")


def list_(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json, print_table
    from crm_tui.services.users import list_users

    with open_context(args) as ctx, ctx.db.read() as session:
        users = list_users(session, include_inactive=not args.active_only)
    if ctx.json:
        print_json(users)
        return 0
    print_table(
        ["login", "name", "role", "teams", "e-mail", "time zone", "active"],
        [(u.login, u.name, u.role, ", ".join(u.teams), u.email, u.timezone or "(default)",
          "yes" if u.active else "no") for u in users],
    )
    return 0


def add(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.users import add_user, get_user

    values = _given(args)
    if "login" not in values:
        raise UsageError("users add: --login is required")
    with open_context(args) as ctx:
        detail = ctx.workspace.write(
            lambda session: get_user(session, add_user(session, ctx.actor, values).id)
        )
    if ctx.json:
        print_json(detail)
    else:
        teams = f" in {', '.join(detail.teams)}" if detail.teams else ""
        print(f"added user {detail.login} ({detail.role}{teams})")
    return 0


def edit(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.users import get_user, update_user

    values = _given(args)
    if not values:
        raise UsageError("users edit: give at least one field to change, e.g. --role manager")
    with open_context(args) as ctx:
        def work(session):
            user = update_user(session, ctx.actor, args.login, values, expected_version=args.if_version)
            return get_user(session, user.id)
        detail = ctx.workspace.write(work)
    if ctx.json:
        print_json(detail)
    else:
        print(f"saved user {detail.login} (version {detail.version})")
    return 0


def teams(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json, print_table
    from crm_tui.services.users import list_teams

    with open_context(args) as ctx, ctx.db.read() as session:
        found = list_teams(session)
    if ctx.json:
        print_json(found)
    else:
        print_table(["team", "members"], [(t.name, ", ".join(t.members)) for t in found])
    return 0
