"""`crm db init-shared` (one SQLite file for a Unix group), `crm db copy --to URL` (into
PostgreSQL) and the PostgreSQL backup hint.

The shared-file test switches to another Unix account, which needs root: run as root it makes a
temporary group and acts as `nobody` in it; otherwise that part is SKIPPED (loudly) and only the
modes are checked, with the user's own group.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from crm_tui.config import Settings
from crm_tui.db.engine import open_database
from crm_tui.models import ActivityType, Contact, HistoryEntry, User

# What the switched child needs, imported before it drops privileges (it cannot read the
# interpreter's own folder afterwards).
from crm_tui.services import contacts as contacts_service
from crm_tui.services.identity import actor_for

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A folder outside pytest's private tmp dir that another account can traverse."""
    base = Path(tempfile.mkdtemp(prefix="crm-shared-"))
    os.chmod(base, 0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def unix_group() -> Iterator[tuple[str, int, bool]]:
    """(name, gid, made_here): a fresh group when root, else the user's own primary group."""
    if not IS_ROOT or shutil.which("groupadd") is None:
        entry = grp.getgrgid(os.getgid())
        yield entry.gr_name, entry.gr_gid, False
        return
    name = f"crm{uuid.uuid4().hex[:8]}"
    subprocess.run(["groupadd", name], check=True, capture_output=True)
    try:
        yield name, grp.getgrnam(name).gr_gid, True
    finally:
        subprocess.run(["groupdel", name], check=False, capture_output=True)


def _mode(path: Path) -> tuple[int, int]:
    info = path.stat()
    return stat.S_IMODE(info.st_mode), info.st_gid


def _as_other_user(path: Path, groups: list[int], name: str) -> int:
    """Fork, become `nobody` with `groups` and umask 077, add a contact. The child's exit code:
    0 written, 3 refused by the file system, 4 anything else."""
    nobody = pwd.getpwnam("nobody")
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 4
        try:
            os.setgroups(groups)
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            os.umask(0o077)
            db = open_database(path)
            try:
                with db.write() as session:
                    admin = session.exec(select(User).where(User.login == "tester")).one()
                    actor = actor_for(session, admin, Settings())
                    contacts_service.create_contact(session, actor, {"name": name, "status": "customer"},
                                                    settings=Settings(), auto_plan=False)
                code = 0
            finally:
                db.dispose()
        except Exception as error:  # noqa: BLE001 - reported through the exit code
            text = str(getattr(error, "orig", error)).lower()
            code = 3 if ("readonly" in text or "permission" in text or "unable to open" in text) else 4
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_init_shared_lets_every_group_member_write(crm, shared_base, unix_group):
    group, gid, made_here = unix_group
    folder = shared_base / "crm"
    path = folder / "crm.sqlite3"
    result = crm("db", "init-shared", str(path), "--group", group, "--admin", "tester", "--json")
    assert result.code == 0, result.err
    assert result.json["group"] == group and result.json["admin"] == "tester"

    folder_mode, folder_gid = _mode(folder)
    assert folder.stat().st_mode & stat.S_ISGID, "the folder is not setgid"
    assert (folder_mode & 0o777, folder_gid) == (0o770, gid)
    assert _mode(path) == (0o660, gid)
    assert _mode(path.with_name("crm.sqlite3.migrate.lock")) == (0o660, gid)

    holder = sqlite3.connect(path)  # keeps -wal and -shm in place while we look at them
    try:
        assert holder.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        holder.execute("SELECT count(*) FROM contacts").fetchone()
        for suffix in ("-wal", "-shm"):
            assert _mode(path.with_name("crm.sqlite3" + suffix)) == (0o660, gid), suffix
        if not made_here:
            pytest.skip("NOT ROOT: cannot act as another member of the group; only the modes were checked")
        assert _as_other_user(path, [gid], "Written by a group member") == 0
        assert _as_other_user(path, [], "Written by a stranger") == 3
    finally:
        holder.close()
    listed = crm("contacts", "list", "--json", db=path)
    assert [c["name"] for c in listed.json] == ["Written by a group member"]
    admins = crm("users", "list", "--json", db=path).json
    assert [(u["login"], u["role"]) for u in admins] == [("tester", "admin")]

    again = crm("db", "init-shared", str(path), "--group", group)  # repairs, keeps the data
    assert again.code == 0, again.err
    assert "members of group" in again.out


def test_init_shared_refuses_what_it_cannot_do_well(crm, shared_base, unix_group):
    group, _gid, _made = unix_group
    crowded = shared_base / "home"
    crowded.mkdir()
    (crowded / "notes.txt").write_text("mine")
    refused = crm("db", "init-shared", str(crowded / "crm.sqlite3"), "--group", group)
    assert refused.code == 1 and refused.err.startswith("crm: path: ") and "folder of its own" in refused.err
    assert not (crowded / "crm.sqlite3").exists()
    unknown = crm("db", "init-shared", str(shared_base / "x" / "crm.sqlite3"), "--group", "no-such-group-x")
    assert unknown.code == 1 and unknown.err.startswith("crm: group: ")
    assert crm("db", "init-shared", str(shared_base / "y.sqlite3")).code == 2  # --group is required


# -- moving to PostgreSQL ------------------------------------------------------------------------


@pytest.mark.postgres
def test_copy_sqlite_into_postgres(crm, db_path, pg_database_factory):
    crm("users", "add", "--login", "anna", "--teams", "Nord", "--timezone", "Europe/Warsaw")
    ids = [
        crm("contacts", "add", "--name", name, "--status", "customer", "--city", city,
            "--expected-revenue", revenue, "--assigned-to", "anna", "--phone", "0271 1", "--json").json["id"]
        for name, city, revenue in [("Müller", "Olpe", "1.000,50"), ("Wójcik", "Łódź", "12,30")]
    ]
    crm("contacts", "edit", str(ids[0]), "--city", "Siegen")
    target = pg_database_factory(migrated=False)
    copied = crm("db", "copy", "--to", target, "--json")
    assert copied.code == 0, copied.err
    rows = {t["name"]: t["rows"] for t in copied.json["tables"]}
    assert rows["contacts"] == 2 and rows["users"] == 2 and rows["activities"] == 2

    shown = crm("contacts", "show", str(ids[0]), "--json", db=target).json
    assert (shown["name"], shown["city"], shown["expected_revenue"], shown["assigned_to"]) == (
        "Müller", "Siegen", "1000.50", "anna")
    assert [r["field"] for r in crm("history", "--contact", str(ids[0]), "--json", db=target).json][0] == "city"
    source, copy = open_database(db_path), open_database(target)
    try:
        for model in (Contact, HistoryEntry, ActivityType, User):
            with source.read() as a, copy.read() as b:
                left = a.exec(select(func.count()).select_from(model)).one()
                assert b.exec(select(func.count()).select_from(model)).one() == left, model
        with source.read() as a, copy.read() as b:  # references within a table survive
            chain = sorted(a.exec(select(ActivityType.id, ActivityType.next_type_id)).all())
            assert sorted(b.exec(select(ActivityType.id, ActivityType.next_type_id)).all()) == chain
            assert any(next_id for _, next_id in chain)
    finally:
        source.dispose()
        copy.dispose()
    # the id sequences moved on: new rows get new ids
    added = crm("contacts", "add", "--name", "Neu", "--status", "customer", "--json", db=target)
    assert added.code == 0, added.err
    assert added.json["id"] == max(ids) + 1
    # a second copy into the same (now full) database is refused, and nothing changes
    again = crm("db", "copy", "--to", target)
    assert again.code == 1 and "not empty" in again.err
    assert len(crm("contacts", "list", "--json", db=target).json) == 3


def test_copy_refuses_itself(crm, db_path):
    crm("users", "list")
    result = crm("db", "copy", "--to", str(db_path))
    assert result.code == 1 and "the target is the source" in result.err


@pytest.mark.postgres
def test_backup_of_postgres_points_to_pg_dump(crm, pg_database_factory, tmp_path):
    result = crm("backup", str(tmp_path / "x.dump"), db=pg_database_factory(migrated=True))
    assert result.code == 1 and "pg_dump" in result.err
    assert not (tmp_path / "x.dump").exists()
