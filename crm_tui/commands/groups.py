"""`crm groups list|add|members`: static and dynamic contact groups."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    group = sub.add_parser("groups", help="contact groups: static lists and saved filters")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")

    listing = add_command(verbs, "list", "crm_tui.commands.groups:list_", "list groups")
    listing.add_argument("--counts", action="store_true", help="count the members of dynamic groups too")

    add = add_command(verbs, "add", "crm_tui.commands.groups:add",
                      "add a static group, or a dynamic one with --query")
    add.add_argument("--name", required=True)
    add.add_argument("--number", default="", help="the group's number")
    add.add_argument("--assigned-to", metavar="LOGIN", help="the user responsible for the group")
    add.add_argument("--query", metavar="QUERY",
                     help='a filter, e.g. "status:customer city:Olpe": makes a dynamic group')

    members = add_command(verbs, "members", "crm_tui.commands.groups:members",
                          "list a group's members, or add and remove members of a static group")
    members.add_argument("group", help="the group's name, number or id")
    members.add_argument("--add", nargs="+", type=int, metavar="ID", default=[], help="contacts to add")
    members.add_argument("--remove", nargs="+", type=int, metavar="ID", default=[], help="contacts to remove")
    members.add_argument("--sort", default="name", help="name, company, city, status, created, number, due")
    members.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    members.add_argument("--offset", type=int, default=0)


def list_(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json, print_table
    from crm_tui.services.groups import list_groups

    with open_context(args) as ctx, ctx.db.read() as session:
        rows = list_groups(session, ctx.actor, count_dynamic=args.counts)
    if ctx.json:
        print_json(rows)
        return 0
    print_table(
        ["id", "name", "number", "kind", "members", "assigned", "query"],
        [(g.id, g.name, g.number, g.kind, "" if g.members is None else g.members, g.assigned_to or "",
          g.query) for g in rows],
    )
    print(f"{len(rows)} groups")
    return 0


def add(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.groups import create_group

    with open_context(args) as ctx:
        row = ctx.workspace.write(lambda session: create_group(
            session, ctx.actor, args.name, number=args.number, assigned_to=args.assigned_to,
            query=args.query,
        ))
    if ctx.json:
        print_json(row)
    else:
        print(f"added {row.kind} group {row.id}: {row.name}" + (f" ({row.query})" if row.query else ""))
    return 0


def members(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json, print_table
    from crm_tui.services.groups import add_members, get_group, list_members, remove_members

    if args.limit < 0 or args.offset < 0:
        raise UsageError("groups members: --limit and --offset must not be negative")
    with open_context(args) as ctx:
        if args.add or args.remove:
            def work(session):
                added = add_members(session, ctx.actor, args.group, args.add) if args.add else 0
                removed = remove_members(session, ctx.actor, args.group, args.remove) if args.remove else 0
                return get_group(session, ctx.actor, args.group), added, removed
            group, added, removed = ctx.workspace.write(work)
            if ctx.json:
                print_json({"group": group, "added": added, "removed": removed})
            else:
                print(f"group {group.name}: {added} added, {removed} removed, {group.members} members")
            return 0
        with ctx.db.read() as session:
            group = get_group(session, ctx.actor, args.group)
            rows = list_members(session, ctx.actor, args.group, sort=args.sort, offset=args.offset,
                                limit=args.limit)
    if ctx.json:
        print_json(rows)
        return 0
    print_table(
        ["id", "name", "company", "status", "city", "phone", "email", "assigned", "state"],
        [(r.id, r.display_name, r.company, r.status, r.city, r.phone, r.email, r.assigned_to or "everybody",
          r.state) for r in rows],
    )
    where = f" (query: {group.query})" if group.query else ""
    print(f"{len(rows)} shown of group {group.name}{where}")
    return 0
