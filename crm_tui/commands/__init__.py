"""Command groups of `crm`. Each module registers its parsers; handlers load services lazily."""

from __future__ import annotations

import argparse
import importlib
import sys

from crm_tui.commands import (
    activities,
    admin,
    board,
    bulk_edit,
    completion,
    config,
    contacts,
    db,
    exchange,
    groups,
    history,
    opps,
    outbox,
    pipelines,
    remind,
    report,
    status,
    types,
    users,
    web,
)

GROUPS = [
    contacts.register,
    bulk_edit.register,  # `crm contacts bulk-edit`: after contacts
    groups.register,
    exchange.register,
    opps.register,
    board.register,
    pipelines.register,
    activities.register,
    types.register,
    status.register,
    remind.register,
    outbox.register,
    users.register,
    history.register,
    report.register,
    web.register,
    config.register,
    completion.register,
    db.register,
    admin.register,
]


def run_handler(spec: str, args: argparse.Namespace) -> int:
    """Import `module:function`, run it, and turn known errors into one line and exit 1."""
    from crm_tui.commands.common import report_errors

    module_name, _, function_name = spec.partition(":")
    with report_errors() as outcome:
        handler = getattr(importlib.import_module(module_name), function_name)
        outcome.code = handler(args) or 0
    sys.stdout.flush()
    return outcome.code
