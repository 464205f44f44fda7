"""`crm remind`: the reminder and follow-up daemon (see crm_tui.daemon)."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    remind = add_command(
        sub, "remind", "crm_tui.commands.remind:remind",
        "the reminder and follow-up daemon: sends due reminders, follow-up mails and queued mail",
    )
    remind.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    remind.add_argument("--dry-run", action="store_true",
                        help="print what a pass would send now and change nothing")
    remind.add_argument("--log-file", metavar="F",
                        help="append the log here instead of stderr (reopened after logrotate)")
    remind.add_argument("--print-systemd-unit", action="store_true",
                        help="print a systemd unit file for this daemon and exit")


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return bool(make_url(url).password)
    except Exception:  # noqa: BLE001 - a malformed URL fails later, with its own message
        return True


def _command_prefix(db_arg: str | None) -> str:
    """How mails spell the `crm` command: with --db when the daemon was given one."""
    import shlex

    if not db_arg or ("://" in db_arg and _has_password(db_arg)):
        return "crm"  # never put a password into a mail
    return f"crm --db {shlex.quote(db_arg)}"


def _logger(log_file: str | None):
    import logging
    import logging.handlers
    import sys

    from crm_tui.daemon import ClockFormatter, log

    log.setLevel(logging.INFO)
    log.propagate = False
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    if log_file:
        from pathlib import Path

        path = Path(log_file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ClockFormatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    return log


def systemd_unit(args: argparse.Namespace) -> str:
    import getpass
    import os
    import shlex
    import shutil
    import sys
    from pathlib import Path

    from crm_tui.config import config_path

    crm = shutil.which("crm")
    command = [str(Path(crm).resolve())] if crm else [sys.executable, "-m", "crm_tui"]
    db = getattr(args, "db", None) or os.environ.get("CRM_DB")
    environment = [f"Environment=CRM_CONFIG={config_path()}"]
    if db and "://" in db and _has_password(db):
        environment.append("# the database URL holds a password: set CRM_DB in the EnvironmentFile")
    elif db:
        command += ["--db", db if "://" in db else str(Path(db).expanduser().resolve())]
    command.append("remind")
    log_file = getattr(args, "log_file", None)
    if log_file:
        command += ["--log-file", str(Path(log_file).expanduser().resolve())]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "crm"
    return f"""\
# crm-tui reminder daemon. Install:
#   crm remind --print-systemd-unit > /etc/systemd/system/crm-remind.service
#   systemctl daemon-reload && systemctl enable --now crm-remind
# Secrets (CRM_SMTP_PASSWORD) belong in the EnvironmentFile, readable by root only.
[Unit]
Description=crm-tui reminder and follow-up daemon
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=simple
User={user}
ExecStart={shlex.join(command)}
{chr(10).join(environment)}
EnvironmentFile=-/etc/crm-tui/remind.env
Restart=on-failure
RestartSec=10
KillSignal=SIGTERM
TimeoutStopSec=10
NoNewPrivileges=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
"""


def remind(args: argparse.Namespace) -> int:
    if args.print_systemd_unit:
        print(systemd_unit(args), end="")
        return 0

    from crm_tui.commands.common import print_json, print_table, wants_json
    from crm_tui.config import get_settings
    from crm_tui.daemon import Daemon
    from crm_tui.db import open_database
    from crm_tui.db.engine import DatabaseError
    from crm_tui.db.migrate import current_revision, ensure_schema
    from crm_tui.db.revision import HEAD_REVISION

    settings = get_settings()
    logger = _logger(getattr(args, "log_file", None))
    db = open_database(getattr(args, "db", None))
    try:
        if args.dry_run:
            if current_revision(db) != HEAD_REVISION:
                raise DatabaseError(f"{db.display_name}: the schema is not current; run `crm db upgrade` "
                                    "first (a dry run changes nothing)")
        else:
            ensure_schema(db)
        daemon = Daemon(db, settings, command=_command_prefix(getattr(args, "db", None)), logger=logger)
        if args.dry_run:
            items = daemon.preview()
            if wants_json(args):
                print_json(items)
            else:
                print_table(
                    ["action", "kind", "to", "subject", "key"],
                    [(i.action if i.outbox_id is None else f"{i.action} #{i.outbox_id}", i.kind,
                      ", ".join(i.to) or "-", i.subject, i.dedupe_key) for i in items],
                )
                sending = sum(1 for i in items if i.action == "send")
                print(f"{sending} mails would be sent, {len(items) - sending} recorded as failed; "
                      "nothing was changed")
            return 0
        daemon.install_signal_handlers()
        if args.once:
            summary = daemon.run_once()
            return 1 if summary.errors else 0
        daemon.run_forever()
        return 0
    finally:
        db.dispose()
