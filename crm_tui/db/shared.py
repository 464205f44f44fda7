"""`crm db init-shared PATH --group GROUP`: one SQLite file that every member of a group can write.

What it sets up:

- the folder holding PATH: group GROUP, mode 2770 (setgid: every file created in it later, such
  as the `-wal` and `-shm` files, belongs to GROUP; no access for others);
- the database file: group GROUP, mode 0660. SQLite creates its `-wal` and `-shm` files with the
  database file's mode whatever the umask (it copies the mode explicitly), so they are
  group-writable too;
- the migration lock file beside it, also 0660 (without it, the first user to upgrade the schema
  would create it 0600 and lock the others out of later upgrades);
- the schema at head and the default configuration; with `--admin LOGIN` that user is created as
  the admin (otherwise the first member to open the database becomes its admin).

It is safe to run again on the same PATH: it repairs the group and modes.
"""

from __future__ import annotations

import grp
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from crm_tui.db.engine import DatabaseError, open_database
from crm_tui.db.migrate import ensure_schema
from crm_tui.services.errors import ValidationError

DIR_MODE = 0o2770
FILE_MODE = 0o660
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal", ".migrate.lock")


@dataclass(frozen=True)
class SharedSetup:
    path: str
    folder: str
    group: str
    gid: int
    admin: str | None
    files: tuple[str, ...]


def _group(name: str) -> grp.struct_group:
    try:
        return grp.getgrgid(int(name)) if name.isdigit() else grp.getgrnam(name)
    except KeyError:
        raise ValidationError("group", f"no group {name!r} on this machine (create it with groupadd)") from None


def _belongs_here(folder: Path, db_name: str, entry: str) -> bool:
    if entry == db_name or entry in (db_name + s for s in COMPANION_SUFFIXES):
        return True
    return entry.startswith(db_name + ".before-") and entry.endswith(".bak")


def _apply(path: Path, gid: int, mode: int) -> None:
    try:
        os.chown(path, -1, gid)
        os.chmod(path, mode)
    except PermissionError:
        raise DatabaseError(
            f"init-shared: not allowed to give {path} to group {gid} with mode {mode:o}; "
            "run it as the owner of the folder or as root"
        ) from None


def init_shared(path: str | os.PathLike[str], group: str, *, admin: str | None = None) -> SharedSetup:
    target = Path(path).expanduser().absolute()
    if "://" in str(path):
        raise ValidationError("path", "init-shared sets up an SQLite file; PostgreSQL uses roles instead")
    entry = _group(group)
    gid = entry.gr_gid
    folder = target.parent
    if target.is_dir():
        raise ValidationError("path", f"{target} is a folder; give the database file, e.g. {target}/crm.sqlite3")
    if folder.exists():
        strangers = sorted(e for e in os.listdir(folder) if not _belongs_here(folder, target.name, e))
        if strangers:
            raise ValidationError(
                "path", f"{folder} holds other files ({', '.join(strangers[:3])}); "
                "a shared database needs a folder of its own"
            )
    else:
        folder.mkdir(parents=True, mode=0o700)
    _apply(folder, gid, DIR_MODE)
    created = []
    for file in (target, target.with_name(target.name + ".migrate.lock")):
        if not file.exists():
            fd = os.open(file, os.O_CREAT | os.O_WRONLY, FILE_MODE)
            os.close(fd)
        _apply(file, gid, FILE_MODE)
        created.append(str(file))
    db = open_database(target)
    try:
        ensure_schema(db)
        from crm_tui.services.defaults import install_defaults

        def prepare(session) -> None:
            install_defaults(session)
            if admin:
                _ensure_admin(session, admin)

        db.transact(prepare)
    finally:
        db.dispose()
    # Files SQLite or a migration backup made meanwhile (WAL, SHM if still there).
    for suffix in ("-wal", "-shm"):
        companion = target.with_name(target.name + suffix)
        if companion.exists():
            _apply(companion, gid, FILE_MODE)
            created.append(str(companion))
    return SharedSetup(str(target), str(folder), entry.gr_name, gid, admin, tuple(created))


def _ensure_admin(session, login: str) -> None:
    from sqlmodel import select

    from crm_tui.models import User
    from crm_tui.services import history
    from crm_tui.services.users import clean_login

    login = clean_login(login)
    user = session.exec(select(User).where(User.login == login)).first()
    if user is None:
        session.add(User(login=login, name=login, role="admin"))
        history.record(session, None, "create", subject=f"user {login}", field="user", new="admin",
                       note="crm db init-shared --admin")
    elif user.role != "admin" or not user.active:
        history.record(session, None, "change", subject=f"user {login}", field="role", old=user.role,
                       new="admin", note="crm db init-shared --admin")
        user.role, user.active = "admin", True
        session.add(user)
    session.flush()


def describe_mode(path: str | os.PathLike[str]) -> str:
    info = os.stat(path)
    return f"{stat.filemode(info.st_mode)} {grp.getgrgid(info.st_gid).gr_name}"
