"""Running `crm` in-process (fast) or as a real process (for exit codes and start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_tui.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cli.sqlite3"


@pytest.fixture
def crm(capsys, db_path):
    """`crm("contacts", "list", "--json")` runs the command line in-process on a test database."""

    def run(*argv: str, db: Path | str | None = None) -> Result:
        capsys.readouterr()
        try:
            code = main(["--db", str(db or db_path), *argv])
        except SystemExit as stop:  # argparse usage errors
            code = stop.code if isinstance(stop.code, int) else 2
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def crm_process(db_path):
    """The real `python -m crm_tui` in a subprocess, with no terminal."""

    def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        completed = subprocess.run(
            [sys.executable, "-m", "crm_tui", "--db", str(db_path), *argv],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    return run
