"""What every command shares: options, opening the database as the acting user, output, errors."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("crm")


def leaf_options() -> argparse.ArgumentParser:
    """Options every leaf command accepts, so `crm contacts list --json --db X` works too."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document")
    parent.add_argument("--db", metavar="URL|PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parent.add_argument("--user", metavar="LOGIN", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parent


LEAF = leaf_options()


def add_command(sub, name: str, handler: str, help_: str, **kwargs) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_, description=help_, parents=[LEAF], **kwargs)
    parser.set_defaults(handler=handler)
    return parser


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


@dataclass
class Outcome:
    code: int = 0


class UsageError(Exception):
    """Wrong usage detected after parsing (exit 2)."""


def _log_path():
    from crm_tui.paths import data_dir

    return data_dir() / "crm.log"


@contextmanager
def report_errors() -> Iterator[Outcome]:
    """Known errors: one line on stderr, exit 1. Anything else: one line, details in the log."""
    outcome = Outcome()
    try:
        yield outcome
    except UsageError as error:
        print(f"crm: {error}", file=sys.stderr)
        outcome.code = 2
    except KeyboardInterrupt:
        print("crm: interrupted", file=sys.stderr)
        outcome.code = 130
    except BrokenPipeError:
        outcome.code = 0
    except Exception as error:  # noqa: BLE001 - the one place that decides what users see
        outcome.code = 1
        if _is_known(error):
            print(f"crm: {error}", file=sys.stderr)
            return
        if _is_database_error(error):
            print(f"crm: database: {str(error.orig).splitlines()[0]}", file=sys.stderr)
            return
        where = _write_crash_log()
        print(f"crm: unexpected error: {type(error).__name__}: {error} (details in {where})", file=sys.stderr)


def _is_known(error: Exception) -> bool:
    from crm_tui.clock import ClockError
    from crm_tui.config import ConfigError

    known: tuple[type, ...] = (ClockError, ConfigError)
    if "crm_tui.services.errors" in sys.modules:
        from crm_tui.services.errors import ServiceError

        known += (ServiceError,)
    if "crm_tui.db.engine" in sys.modules:
        from crm_tui.db.engine import DatabaseError

        known += (DatabaseError,)
    return isinstance(error, known)


def _is_database_error(error: Exception) -> bool:
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy.exc import DBAPIError

    return isinstance(error, DBAPIError)


def _write_crash_log() -> str:
    path = _log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())
        return str(path)
    except OSError:
        return "no log could be written"


@dataclass
class Context:
    """An open database and the acting user, for one command."""

    db: Any
    actor: Any
    settings: Any
    json: bool
    workspace: Any = None


@contextmanager
def open_context(args: argparse.Namespace, *, migrate: bool = True) -> Iterator[Context]:
    """Open `--db`, bring the schema to head, resolve the acting user (first user -> admin)."""
    from crm_tui.login import acting_login
    from crm_tui.workspace import open_workspace

    workspace = open_workspace(getattr(args, "db", None), acting_login(getattr(args, "user", None)),
                               migrate=migrate)
    try:
        yield Context(db=workspace.db, actor=workspace.actor, settings=workspace.settings,
                      json=wants_json(args), workspace=workspace)
    finally:
        workspace.close()


def print_json(data: Any) -> None:
    from crm_tui.services.dto import plain

    json.dump(plain(data), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console(soft_wrap=False).print(table)


def print_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print(f"{key:<{width}}  {'' if value is None else value}")


def field_options(parser: argparse.ArgumentParser, names: Sequence[str], helps: dict[str, str] | None = None) -> None:
    """One option per field, named after it (`--first-name` for first_name)."""
    helps = helps or {}
    for name in names:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=f"field_{name}", metavar="VALUE",
                            help=helps.get(name))


def given_fields(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {n: getattr(args, f"field_{n}") for n in names if getattr(args, f"field_{n}", None) is not None}
