"""Fixtures for the daemon: a real SMTP server on loopback, a team with contacts, runs of `crm remind`.

- `smtp` is an aiosmtpd server on 127.0.0.1 (a free port picked first) whose behaviour a test
  switches with `smtp.mode`: accept, slow (accepts after 0.6 s), 451-once (451 then accept), 451
  (always), 550, silent (takes the mail and never answers), and `smtp.refuse` (addresses refused at
  RCPT with 550);
- `world` is a migrated database (SQLite, or both backends through `db`) with the shipped defaults
  and a small team;
- `daemon_env` / `run_remind` run `python -m crm_tui remind` as a real process.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from crm_tui.config import FollowupSettings, Settings, SmtpSettings
from crm_tui.db.engine import Database
from crm_tui.models import Activity, ActivityType, Contact, Team, TeamMember, User
from crm_tui.services.activities import compute_remind_at
from crm_tui.services.defaults import install_defaults
from crm_tui.services.identity import Actor, actor_for

SMTP_TIMEOUT = 0.5
"""Seconds: short, so the silent-server case is quick; loopback answers in microseconds."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message_id: str
    subject: str
    to: str
    body: str
    headers: dict[str, str]


class Recorder:
    """An aiosmtpd handler that keeps what it accepts and misbehaves on request."""

    def __init__(self):
        self.mode = "accept"
        self.refuse: set[str] = set()
        self.raw: list[tuple[str, list[str], bytes]] = []
        self.data_calls = 0
        self.release = threading.Event()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.data_calls += 1
            calls = self.data_calls
        if self.mode == "silent":
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return "421 4.3.2 shutting down"
        if self.mode == "slow":  # a mail in hand when the daemon is told to stop
            await asyncio.sleep(0.6)
        if self.mode == "451" or (self.mode == "451-once" and calls == 1):
            return "451 4.3.0 temporary failure, try again later"
        if self.mode == "550":
            return "550 5.7.1 message rejected by policy"
        with self.lock:  # parsed when a test looks: the server stays quick under 1,000 mails
            self.raw.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK: queued"

    @property
    def messages(self) -> list[Received]:
        with self.lock:
            raw = list(self.raw)
        return [_parse(*item) for item in raw]


def _parse(mail_from: str, rcpt_tos: list[str], content: bytes) -> Received:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    return Received(
        mail_from=mail_from, rcpt_tos=rcpt_tos, message_id=str(parsed["Message-ID"]),
        subject=str(parsed["Subject"]), to=str(parsed["To"]), body=parsed.get_content(),
        headers={k: str(v) for k, v in parsed.items()},
    )


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Recorder

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def mode(self) -> str:
        return self.handler.mode

    @mode.setter
    def mode(self, value: str) -> None:
        self.handler.mode = value

    @property
    def refuse(self) -> set[str]:
        return self.handler.refuse

    def settings(self, **changes) -> SmtpSettings:
        return replace(SmtpSettings(host=self.host, port=self.port, sender="CRM <crm@firma.test>",
                                    timeout=SMTP_TIMEOUT), **changes)

    def env(self) -> dict[str, str]:
        return {"CRM_SMTP_HOST": self.host, "CRM_SMTP_PORT": str(self.port),
                "CRM_SMTP_FROM": "CRM <crm@firma.test>", "CRM_SMTP_TIMEOUT": str(SMTP_TIMEOUT)}


@pytest.fixture
def smtp_factory():
    """`smtp_factory(**controller_options)` starts another server (e.g. one that wants a login)."""
    started: list[tuple[Controller, Recorder]] = []

    def start(**options) -> SmtpServer:
        handler = Recorder()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10, **options)
        controller.start()
        started.append((controller, handler))
        return SmtpServer("127.0.0.1", controller.port, handler)

    yield start
    for controller, handler in started:
        handler.release.set()
        controller.stop()


@pytest.fixture
def smtp(smtp_factory) -> SmtpServer:
    return smtp_factory()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nobody listens on."""
    return free_port()


@pytest.fixture
def settings(smtp) -> Settings:
    return Settings(smtp=smtp.settings(), followup=FollowupSettings(run_time="07:00", timezone="UTC"))


# -- a small world -----------------------------------------------------------------------------

TEAM = [
    # login, name, role, team, timezone
    ("tester", "Tess Tester", "admin", None, "Europe/Berlin"),
    ("anna", "Anna Nowak", "rep", "Nord", "Europe/Warsaw"),
    ("ben", "Ben Becker", "rep", "Süd", "Europe/Berlin"),
    ("mia", "Mia Müller", "manager", "Nord", "Europe/Berlin"),
]


@dataclass
class World:
    db: Database
    actors: dict[str, Actor]
    types: dict[str, int] = field(default_factory=dict)
    """Activity type id by category."""
    teams: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, login: str) -> Actor:
        return self.actors[login]

    def contact(self, name: str = "Müller", **values) -> int:
        values.setdefault("first_name", "Jürgen")
        values.setdefault("company", "Müller Bau GmbH")
        values.setdefault("email", "jm@mueller-bau.test")
        values.setdefault("status", "customer")
        with self.db.write() as session:
            contact = Contact(name=name, **values)
            session.add(contact)
            session.flush()
            return contact.id

    def activity(self, contact_id: int, due: date, at: time | None = None, *, minutes: int | None = 30,
                 assignee: str | None = "anna", team: str | None = None, category: str = "call",
                 summary: str = "Angebot besprechen", opportunity_id: int | None = None,
                 created_at: datetime | None = None, status: str = "planned", default_hour: int = 9) -> int:
        """An activity with remind_at computed as plan_activity does (in the assignee's zone)."""
        with self.db.write() as session:
            user_id = self.actors[assignee].id if assignee else None
            zone = self.actors[assignee].timezone if assignee else "UTC"
            activity = Activity(
                type_id=self.types[category], contact_id=contact_id, opportunity_id=opportunity_id,
                summary=summary, due_date=due, due_time=at, assigned_user_id=user_id,
                assigned_team_id=self.teams[team] if team else None, reminder_minutes=minutes,
                remind_at=compute_remind_at(due, at, minutes, zone, default_hour),
                created_by_id=self.actors["tester"].id, status=status,
            )
            if created_at is not None:
                activity.created_at = created_at
                activity.updated_at = created_at
            session.add(activity)
            session.flush()
            return activity.id


def make_world(db: Database) -> World:
    with db.write() as session:
        install_defaults(session)
        world = World(db, {})
        for login, name, role, team_name, zone in TEAM:
            user = User(login=login, name=name, role=role, timezone=zone, email=f"{login}@firma.test")
            session.add(user)
            session.flush()
            if team_name:
                if team_name not in world.teams:
                    team = Team(name=team_name)
                    session.add(team)
                    session.flush()
                    world.teams[team_name] = team.id
                session.add(TeamMember(team_id=world.teams[team_name], user_id=user.id))
        session.flush()
        for user in session.exec(select(User)).all():
            world.actors[user.login] = actor_for(session, user)
        for kind in session.exec(select(ActivityType).order_by(ActivityType.id)).all():
            world.types.setdefault(kind.category, kind.id)
    return world


@pytest.fixture
def world(sqlite_db: Database) -> World:
    """The world on SQLite."""
    return make_world(sqlite_db)


@pytest.fixture
def any_world(db: Database) -> World:
    """The world on SQLite and on PostgreSQL."""
    return make_world(db)


# -- `crm remind` as a real process ------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    err: str


def process_env(db: Database, smtp: SmtpServer | None, now: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update({"CRM_DB": db.url, "CRM_CONFIG": os.environ["CRM_CONFIG"], "CRM_USER": "tester",
                "PYTHONUNBUFFERED": "1"})
    if smtp is not None:
        env.update(smtp.env())
    if now:
        env["CRM_NOW"] = now
    env.update(extra)
    return env


def remind_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "crm_tui", "remind", *args]


@pytest.fixture
def run_remind(smtp):
    """`run_remind(db, "--once", now="2026-...")` runs the daemon as a process and waits for it."""

    def run(db: Database, *args: str, now: str | None = None, timeout: float = 60, **extra: str) -> Run:
        done = subprocess.run(remind_command(*args), env=process_env(db, smtp, now, **extra),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return Run(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def spawn_remind(smtp):
    """`spawn_remind(db, *args, now=...)` starts the daemon as a process and returns the Popen."""
    started: list[subprocess.Popen] = []

    def spawn(db: Database, *args: str, now: str | None = None, **extra: str) -> subprocess.Popen:
        process = subprocess.Popen(remind_command(*args), env=process_env(db, smtp, now, **extra),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL)
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
