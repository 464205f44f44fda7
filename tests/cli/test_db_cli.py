"""`crm db upgrade|check`, `crm backup`, `crm status`, `crm --help`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from crm_tui.db.revision import HEAD_REVISION


def test_upgrade_then_check(crm):
    first = crm("db", "upgrade", "--json")
    assert first.code == 0
    assert first.json == {"from": None, "to": HEAD_REVISION, "backup": None}
    assert crm("db", "upgrade").out.strip() == f"schema is current ({HEAD_REVISION})"
    checked = crm("db", "check", "--json")
    assert checked.code == 0, checked.out
    assert checked.json["ok"] is True
    assert {c["name"] for c in checked.json["checks"]} >= {"schema", "integrity", "foreign keys", "full-text index"}


def test_check_reports_broken_fts(crm, db_path):
    crm("contacts", "add", "--name", "Nowak", "--status", "customer")
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER contacts_fts_au")
        conn.execute("UPDATE contacts SET name = 'Kowalski'")
    result = crm("db", "check")
    assert result.code == 1
    assert "BAD  full-text index" in result.out


def test_backup_copy_opens_with_data(crm, db_path, tmp_path):
    cid = crm("contacts", "add", "--name", "Nowak", "--status", "customer", "--json").json["id"]
    target = tmp_path / "copy.sqlite3"
    assert crm("backup", str(target)).code == 0
    assert crm("contacts", "show", str(cid), "--json", db=target).json["name"] == "Nowak"
    again = crm("backup", str(target))
    assert again.code == 1 and "exists already" in again.err


def test_status_line(crm, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    crm("contacts", "add", "--name", "Nowak", "--status", "customer", "--phone", "0171 555")
    result = crm("status")
    assert result.code == 0
    assert result.out.strip() == "0 overdue · 1 today · 0 planned"


def test_help_is_fast_and_loads_no_orm():
    code = (
        "import sys; from crm_tui.cli import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "assert 'sqlalchemy' not in sys.modules and 'sqlmodel' not in sys.modules, 'ORM loaded'\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "contacts" in completed.stdout and "CRM_NOW" in completed.stdout
