"""`crm contacts bulk-edit --where QUERY [--yes]`: the matching contacts as a TSV table in
$EDITOR; after saving, a preview of every changed field; then one transaction (all or none).

Exit 0: saved, or nothing changed. 1: a bad value (its line and field are named), a contact that
someone else saved meanwhile, or not confirmed -- nothing written. 2: wrong usage.
"""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    """Adds `bulk-edit` to the `crm contacts` group (registered before this)."""
    contacts = sub.choices["contacts"]
    verbs = next(a for a in contacts._actions if isinstance(a, argparse._SubParsersAction))
    edit = add_command(
        verbs, "bulk-edit", "crm_tui.commands.bulk_edit:bulk_edit",
        "edit many contacts at once as a table in $EDITOR, with a preview before saving",
        epilog="The editor is $VISUAL, else $EDITOR, else vi or nano. Change cells, delete the lines "
               "of contacts to leave alone; keep id and version. Saving checks that nobody saved "
               "these contacts meanwhile.",
    )
    edit.add_argument("--where", metavar="QUERY", required=True,
                      help='which contacts, e.g. "city:Olpe status:prospect"')
    edit.add_argument("--yes", "-y", action="store_true", help="save without asking after the preview")


def bulk_edit(args: argparse.Namespace) -> int:
    import sys

    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.bulk import Selection
    from crm_tui.services.bulk_edit import BulkEditRefused, apply_edit, plan_edit, selection_tsv
    from crm_tui.services.errors import ValidationError
    from crm_tui.services.query import parse
    from crm_tui.widgets.editor import EditorError, edit_in_file

    with open_context(args) as ctx:
        actor = ctx.actor
        selection = Selection.matching(parse(args.where, actor.today()))
        original = ctx.workspace.read(lambda s: selection_tsv(s, actor, selection))
        try:
            edited = edit_in_file(original, ".tsv")
        except EditorError as error:
            raise ValidationError("editor", str(error)) from None
        plan = ctx.workspace.read(lambda s: plan_edit(s, actor, original, edited, settings=ctx.settings))
        if not plan.ok:
            for problem in plan.problems:
                print(f"crm: bulk-edit: {problem.text()}", file=sys.stderr)
            print(f"crm: bulk-edit: nothing saved ({len(plan.problems)} problems)", file=sys.stderr)
            return 1
        if not plan.changes:
            if ctx.json:
                print_json({"saved": False, "contacts": 0, "fields": 0, "changes": []})
            else:
                print("no changes")
            return 0
        if not ctx.json:
            for line in plan.preview():
                print(line)
            print(f"{plan.field_count} fields of {len(plan.changes)} contacts change"
                  + (f"; {plan.left_out} left out" if plan.left_out else ""))
        if not args.yes:
            if not sys.stdin.isatty():
                print("crm: bulk-edit: not saved: confirm with --yes (no terminal to ask)", file=sys.stderr)
                return 1
            answer = input("Save these changes? [y/N] ").strip().lower()
            if answer not in ("y", "yes", "j", "ja", "t", "tak"):
                print("not saved")
                return 1
        try:
            result = ctx.workspace.write(lambda s: apply_edit(s, actor, plan, settings=ctx.settings))
        except BulkEditRefused as refused:
            for problem in refused.problems:
                print(f"crm: bulk-edit: {problem.text()}", file=sys.stderr)
            print(f"crm: bulk-edit: nothing saved ({len(refused.problems)} problems)", file=sys.stderr)
            return 1
    if ctx.json:
        print_json({"saved": True, "contacts": result.contacts, "fields": result.fields,
                    "changes": [{"id": c.contact_id, "fields": {k: {"old": o, "new": n}
                                 for k, (o, n) in c.fields.items()}} for c in plan.changes]})
    else:
        print(f"saved {result.fields} fields of {result.contacts} contacts")
    return 0
