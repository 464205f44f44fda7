"""`crm config check|keys`: is the config file right, and which keys can `[keymap]` remap.

`check` reads the file and the CRM_* overrides exactly as the app does, and reports what would
not work: a malformed file or value, a `[keymap]` id no binding has, an unknown theme. Exit 0
when all is well, 1 otherwise (one line per problem). `keys` lists every binding id with its
default key, for writing a `[keymap]` section.
"""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    group = sub.add_parser("config", help="check the config file; list the keys [keymap] remaps")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")
    add_command(verbs, "check", "crm_tui.commands.config:check",
                "check the config file: values, [keymap] binding ids, theme")
    add_command(verbs, "keys", "crm_tui.commands.config:keys",
                "every key binding: its id (for [keymap]), default key and what it does")


def check(args: argparse.Namespace) -> int:
    import sys

    from crm_tui.commands.common import print_json, wants_json
    from crm_tui.config import ConfigError, config_path, load_settings

    path = config_path()
    problems: list[str] = []
    try:
        settings = load_settings(path)
    except ConfigError as error:
        problems.append(str(error))
        settings = None
    if settings is not None:
        from crm_tui.keymap import keymap_problems, theme_problems

        problems += keymap_problems(settings.keymap)
        problems += theme_problems(settings.general.theme)
    found = path.is_file()
    if wants_json(args):
        print_json({"file": str(path), "exists": found, "ok": not problems, "problems": problems})
    else:
        print(f"config file: {path}" + ("" if found else " (none: defaults)"))
        for problem in problems:
            print(f"crm: config: {problem}", file=sys.stderr)
        if not problems:
            print("ok")
    return 1 if problems else 0


def keys(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import print_json, wants_json
    from crm_tui.keymap import all_bindings

    bindings = all_bindings()
    if wants_json(args):
        print_json([{"id": b.id, "key": b.key, "description": b.description, "where": b.owner}
                    for b in bindings])
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("id", "key", "what", "where"):
            table.add_column(column, no_wrap=column != "what", overflow="fold")
        for b in bindings:
            table.add_row(b.id, b.key, b.description, b.owner)
        Console(soft_wrap=False).print(table)
    return 0
