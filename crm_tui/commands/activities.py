"""`crm activities ...`: list, plan, log, done, reschedule, pause, resume, cancel, reassign.

A `--json` activity has exactly the keys of services.activities.ActivityRow: id, type, category,
summary, note, contact_id, opportunity_id, assigned_to, due, time, state, status, paused,
feedback, previous_id.
"""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command

PLAN_OPTIONS = (
    # option, values key, help
    ("--type", "type", "activity type, by name (e.g. Anruf) or category (call)"),
    ("--due", "due", "date: 2026-12-01, 1.12.2026, today, tomorrow, +3d, +2w, mon"),
    ("--time", "time", "time of day, HH:MM"),
    ("--summary", "summary", "one line (default: the type's summary)"),
    ("--note", "note", "note (default: the type's note)"),
    ("--assigned-to", "assigned_to", "a login, team:NAME, or everybody (default: the type's or you)"),
    ("--remind", "reminder_minutes", "reminder, minutes before (default: the type's)"),
    ("--priority", "priority", "0 (normal) to 3 (urgent)"),
    ("--place", "place", "where"),
    ("--goal", "goal", "what it should achieve"),
)


def _ids_argument(parser: argparse.ArgumentParser, nargs: str = "+") -> None:
    parser.add_argument("ids", type=int, nargs=nargs, metavar="ID", help="activity id(s)")


def _plan_options(parser: argparse.ArgumentParser, *, log: bool) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--contact", type=int, metavar="ID", help="the contact")
    target.add_argument("--opp", type=int, metavar="ID", help="the opportunity (and its contact)")
    for option, key, help_ in PLAN_OPTIONS:
        if option == "--due" and log:
            help_ += " (default: today)"
        parser.add_argument(option, dest=f"plan_{key}", metavar="VALUE", help=help_,
                            required=option in ("--type",) or (option == "--due" and not log))
    if log:
        parser.add_argument("--feedback", metavar="TEXT", help="how it went")


def register(sub) -> None:
    group = sub.add_parser("activities", help="list, plan, log, complete and triage activities")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")

    listing = add_command(verbs, "list", "crm_tui.commands.activities:list_",
                          "list activities (open ones, most urgent first)")
    who = listing.add_mutually_exclusive_group()
    who.add_argument("--mine", action="store_true", help="only those assigned to me")
    who.add_argument("--assigned-to", metavar="LOGIN", help="a login, team:NAME, or everybody")
    listing.add_argument("--state", choices=("overdue", "today", "planned"),
                         help="by due date in your time zone")
    listing.add_argument("--contact", type=int, metavar="ID")
    listing.add_argument("--opp", type=int, metavar="ID")
    listing.add_argument("--status", default="planned", choices=("planned", "done", "cancelled", "all"),
                         help="planned (default), done, cancelled or all")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--offset", type=int, default=0)

    plan = add_command(verbs, "plan", "crm_tui.commands.activities:plan", "plan an activity")
    _plan_options(plan, log=False)

    log = add_command(verbs, "log", "crm_tui.commands.activities:log",
                      "log an activity that already happened (saved as done)")
    _plan_options(log, log=True)

    done = add_command(verbs, "done", "crm_tui.commands.activities:done",
                       "mark an activity done; its type's chaining plans or suggests the next")
    done.add_argument("id", type=int, metavar="ID")
    done.add_argument("--feedback", metavar="TEXT", default="", help="how it went")
    done.add_argument("--next", action="store_true",
                      help="also plan the suggested next activity with its defaults")
    done.add_argument("--file", metavar="PATH", help="store this file as an attachment")

    move = add_command(verbs, "reschedule", "crm_tui.commands.activities:reschedule",
                       "move activities to a date or by a shift; --overdue: all my overdue to today")
    _ids_argument(move, "*")
    when = move.add_mutually_exclusive_group(required=True)
    when.add_argument("--due", metavar="DATE", help="new date: 2026-12-01, 1.12.2026, tomorrow, mon, +3d")
    when.add_argument("--by", metavar="SHIFT", help="shift each: +1d, +3d, +1w, +1m (--by=-1d to go back)")
    when.add_argument("--overdue", action="store_true",
                      help="move all my overdue activities to today (no ids)")

    for verb, help_ in (("pause", "pause activities (they leave their records' state)"),
                        ("resume", "resume paused activities")):
        parser = add_command(verbs, verb, f"crm_tui.commands.activities:{verb}", help_)
        _ids_argument(parser)

    cancel = add_command(verbs, "cancel", "crm_tui.commands.activities:cancel", "cancel activities")
    _ids_argument(cancel)
    cancel.add_argument("--reason", metavar="TEXT", default="", help="why (kept in the history)")

    reassign = add_command(verbs, "reassign", "crm_tui.commands.activities:reassign",
                           "give activities to someone else")
    _ids_argument(reassign)
    reassign.add_argument("--to", dest="assigned_to", required=True, metavar="LOGIN",
                          help="a login, team:NAME, or everybody")


# -- output ----------------------------------------------------------------------------------


def _print_rows(rows) -> None:
    from crm_tui.commands.common import print_table

    print_table(
        ["id", "due", "time", "state", "type", "summary", "contact", "opp", "assigned", "status"],
        [
            (r.id, r.due.isoformat(), r.time.strftime("%H:%M") if r.time else "",
             r.state + (" (paused)" if r.paused else ""), r.type, r.summary, r.contact_id,
             r.opportunity_id or "", r.assigned_to or "everybody", r.status)
            for r in rows
        ],
    )


def _describe(row) -> str:
    when = row.due.isoformat() + (f" {row.time.strftime('%H:%M')}" if row.time else "")
    who = row.assigned_to or "everybody"
    return f"activity {row.id}: {row.type}: {row.summary} · {when} · {who} · contact {row.contact_id}"


# -- handlers --------------------------------------------------------------------------------


def list_(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.activities import list_activities

    with open_context(args) as ctx, ctx.db.read() as session:
        rows = list_activities(
            session, ctx.actor, mine=args.mine, assigned_to=args.assigned_to, state=args.state,
            contact_id=args.contact, opportunity_id=args.opp, status=args.status,
            limit=args.limit, offset=args.offset,
        )
    if ctx.json:
        print_json(rows)
        return 0
    _print_rows(rows)
    print(f"{len(rows)} activities")
    return 0


def _plan_values(args: argparse.Namespace) -> dict[str, object]:
    values: dict[str, object] = {}
    if args.contact is not None:
        values["contact_id"] = args.contact
    if args.opp is not None:
        values["opportunity_id"] = args.opp
    for _option, key, _help in PLAN_OPTIONS:
        value = getattr(args, f"plan_{key}")
        if value is not None:
            values[key] = value
    return values


def _plan_or_log(args: argparse.Namespace, *, done: bool) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.activities import plan_activity, row_of

    values = _plan_values(args)
    if done:
        values.setdefault("due", "today")
        if args.feedback is not None:
            values["feedback"] = args.feedback
    with open_context(args) as ctx:
        def work(session):
            activity = plan_activity(session, ctx.actor, values, settings=ctx.settings, done=done)
            return row_of(session, ctx.actor, activity)

        row = ctx.workspace.write(work)
    if ctx.json:
        print_json(row)
    else:
        print(("logged " if done else "planned ") + _describe(row))
    return 0


def plan(args: argparse.Namespace) -> int:
    return _plan_or_log(args, done=False)


def log(args: argparse.Namespace) -> int:
    return _plan_or_log(args, done=True)


def done(args: argparse.Namespace) -> int:
    import shlex

    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.chaining import mark_done, read_upload

    upload = read_upload(args.file) if args.file is not None else None
    with open_context(args) as ctx:
        def work(session):
            return mark_done(session, ctx.actor, args.id, args.feedback, plan_next=args.next,
                             file=upload, settings=ctx.settings)

        result = ctx.workspace.write(work)
    if ctx.json:
        print_json({
            "done": result.done, "chaining": result.chaining, "next": result.created,
            "suggested": result.draft, "attachment_id": result.attachment_id,
        })
        return 0
    print("done " + _describe(result.done))
    if result.attachment_id is not None:
        print(f"stored attachment {result.attachment_id}")
    if result.created is not None:
        how = "triggered" if result.chaining == "trigger" else "planned"
        print(f"{how} next: " + _describe(result.created))
    elif result.draft is not None:
        d = result.draft
        target = f"--opp {d.opportunity_id}" if d.opportunity_id else f"--contact {d.contact_id}"
        print(f"suggested next: {d.type}: {d.summary} on {d.due.isoformat()}; plan it with:\n"
              f"  crm activities plan --type {shlex.quote(d.type)} {target} --due {d.due.isoformat()}"
              "\n(`--next` plans the suggestion at once)")
    return 0


def _triage(args: argparse.Namespace, action, verb: str) -> int:
    """Run one triage service on the ids, in one transaction; print the affected activities."""
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.activities import rows_by_ids

    with open_context(args) as ctx:
        def work(session):
            result = action(session, ctx)
            return result, rows_by_ids(session, ctx.actor, result.ids)

        result, rows = ctx.workspace.write(work)
    if ctx.json:
        print_json(rows)
        return 0
    print(f"{verb} {result.count} {'activity' if result.count == 1 else 'activities'}"
          + (f" ({len(result.unchanged)} already so)" if result.unchanged else ""))
    changed = set(result.changed)
    for row in rows:
        if row.id in changed:
            print("  " + _describe(row))
    return 0


def reschedule(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError
    from crm_tui.services import activities

    if args.overdue:
        if args.ids:
            raise UsageError("activities reschedule: --overdue takes no ids")
        return _triage(args, lambda s, ctx: activities.move_overdue_to_today(
            s, ctx.actor, settings=ctx.settings), "rescheduled")
    if not args.ids:
        raise UsageError("activities reschedule: give activity ids (or --overdue)")
    return _triage(args, lambda s, ctx: activities.reschedule(
        s, ctx.actor, args.ids, due=args.due, by=args.by, settings=ctx.settings), "rescheduled")


def pause(args: argparse.Namespace) -> int:
    from crm_tui.services import activities

    return _triage(args, lambda s, ctx: activities.pause(s, ctx.actor, args.ids), "paused")


def resume(args: argparse.Namespace) -> int:
    from crm_tui.services import activities

    return _triage(args, lambda s, ctx: activities.resume(s, ctx.actor, args.ids), "resumed")


def cancel(args: argparse.Namespace) -> int:
    from crm_tui.services import activities

    return _triage(args, lambda s, ctx: activities.cancel(s, ctx.actor, args.ids, args.reason),
                   "cancelled")


def reassign(args: argparse.Namespace) -> int:
    from crm_tui.services import activities

    return _triage(args, lambda s, ctx: activities.reassign(
        s, ctx.actor, args.ids, args.assigned_to, settings=ctx.settings), "reassigned")
