"""The headless reminder loop behind `crm remind`.

Every tick (30 s, through the `schedule` library) the daemon looks in the database for work:

1. reminders that came due -> outbox mails (crm_tui.services.reminders);
2. the daily follow-up run, if its moment has passed and no daemon made it yet
   (crm_tui.services.followups; `schedule` also fires a tick at that moment);
3. delivery: claim one due outbox row at a time, send it over SMTP, record the outcome
   (crm_tui.services.outbox, crm_tui.services.mail).

What is due always comes from the database, so a daemon that was down catches up on start, and any
number of daemons (or cron runs of `crm remind --once`) can share one database: the outbox's
dedupe keys and claims keep each mail to one delivery.

It logs one line per action and never a traceback for what is expected to go wrong (a mail server
that is down, a database that is busy). SIGTERM/SIGINT: the mail in hand is finished (or, if the
server does not answer within STOP_GRACE, the session is cut and the mail goes back to pending)
and the daemon exits, leaving no row in `sending`.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from crm_tui import clock
from crm_tui.config import Settings
from crm_tui.db.engine import Database, DatabaseError
from crm_tui.services import followups, outbox, reminders
from crm_tui.services.errors import ServiceError
from crm_tui.services.mail import SmtpSender, build_message, sender_address

T = TypeVar("T")

TICK_SECONDS = 30
STOP_GRACE = 1.0
"""Seconds a stopping daemon waits for the mail in hand before it cuts the SMTP session."""
POLL_SECONDS = 0.1
TEST_HOOK_KILL_AFTER_250 = "CRM_TEST_HOOK_KILL_AFTER_250"
"""TEST HOOK ONLY: when set, the daemon SIGKILLs itself right after the server's 250, before it
records the mail as sent: the crash window that at-least-once delivery documents."""

log = logging.getLogger("crm.remind")


def default_owner() -> str:
    """This daemon's name on its claims: host, pid and a random part (pids get reused)."""
    host = socket.gethostname()[:60] or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


def lease_for(settings: Settings) -> timedelta:
    """How long a claim holds: the slowest a send can take with every call timing out, plus a margin."""
    return timedelta(seconds=8 * max(settings.smtp.timeout, 0.1) + 60)


@dataclass
class PassSummary:
    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.queued} queued, {self.sent} sent, {self.retried} to retry, {self.failed} failed"
        return text + (f", {len(self.errors)} errors" if self.errors else "")


@dataclass(frozen=True)
class PreviewItem:
    """One mail a pass would send now (`crm remind --dry-run`)."""

    source: str
    """reminder or followup (queued by this pass), or outbox (queued already)."""
    action: str
    """send, or record-failed (a new mail that cannot go out, e.g. no address)."""
    kind: str
    dedupe_key: str
    to: list[str]
    subject: str
    outbox_id: int | None = None
    attempts: int = 0
    note: str = ""


class Daemon:
    """One reminder daemon on one database."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        command: str = "crm",
        owner: str | None = None,
        logger: logging.Logger | None = None,
    ):
        self.db = db
        self.settings = settings
        self.command = command
        """How mails spell the command that opens a record (`crm` or `crm --db PATH`)."""
        self.owner = owner or default_owner()
        self.log = logger or log
        self.lease = lease_for(settings)
        self.sender = SmtpSender(settings.smtp)
        self.stopping: str | None = None
        """Set (to the reason) by a signal handler: plain assignment is all a handler may do safely."""
        self._finished = False
        self._paused_until: datetime | None = None
        self._told_unconfigured = False
        self._watchdog: threading.Thread | None = None
        self.scheduler = None
        """The `schedule.Scheduler` of `run_forever` (for tests and introspection)."""
        # A malformed run time or zone fails at start with one line, not every tick.
        followups.run_time_of(settings)
        clock.zone(settings.followup.timezone)
        clock.zone(settings.general.timezone)

    # -- database access with one-line errors --------------------------------------------------

    def _write(self, work: Callable[[Session], T]) -> T:
        try:
            return self.db.transact(work)
        except DBAPIError as error:
            raise DatabaseError(f"database: {str(error.orig).splitlines()[0]}") from None

    def _read(self, work: Callable[[Session], T]) -> T:
        try:
            with self.db.read() as session:
                return work(session)
        except DBAPIError as error:
            raise DatabaseError(f"database: {str(error.orig).splitlines()[0]}") from None

    # -- stopping ------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def handler(signum, _frame):
            self.stopping = signal.Signals(signum).name

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def request_stop(self, reason: str = "asked to stop") -> None:
        self.stopping = reason

    def _start_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="crm-remind-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        while not self.stopping and not self._finished:
            time.sleep(POLL_SECONDS)
        if self._finished:
            return
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            if self._finished:
                return
            time.sleep(POLL_SECONDS / 2)
        self.sender.abort()  # the mail in hand goes back to pending; nothing else starts

    # -- one pass ------------------------------------------------------------------------------

    def tick(self) -> PassSummary:
        """Queue what came due, make a due follow-up run, deliver what is due. Never raises for
        a busy database or an absent mail server (one log line each)."""
        summary = PassSummary()
        try:
            self._queue_reminders(summary)
            if not self.stopping:
                self._run_followups(summary)
            if not self.stopping:
                self._deliver(summary)
        except (DatabaseError, DBAPIError) as error:
            text = str(error) if isinstance(error, DatabaseError) else f"database: {error.orig}"
            text = text.splitlines()[0].removesuffix("; try again")
            summary.errors.append(text)
            self.log.warning("%s; trying again at the next tick", text)
        except ServiceError as error:
            summary.errors.append(str(error))
            self.log.error("%s", error)
        finally:
            self.sender.close()
        return summary

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception:  # noqa: BLE001 - a months-long loop must outlive a bug; the log has it
            self.log.exception("unexpected error in a tick; carrying on")

    def _queue_reminders(self, summary: PassSummary) -> None:
        zone = self.settings.general.timezone
        sender = self.settings.smtp.sender
        while not self.stopping:
            batch = self._write(
                lambda s: reminders.queue_due_reminders(s, sender, zone, command=self.command)
            )
            for mail in batch.added:
                self._log_queued(mail)
                summary.queued += 1
            for activity_id in batch.nobody:
                self.log.info("reminder of activity %d: nobody to send it to", activity_id)
            if batch.handled < reminders.BATCH:
                return

    def _run_followups(self, summary: PassSummary) -> None:
        if self._read(lambda s: followups.pending_run(s, clock.now(), self.settings)) is None:
            return
        result = self._write(
            lambda s: followups.run_followups(s, self.settings, self.settings.smtp.sender, command=self.command)
        )
        if result is None:
            return  # another daemon made this run a moment ago
        run_at, added = result
        for mail in added:
            self._log_queued(mail)
            summary.queued += 1
        self.log.info("follow-up run of %s: %d mails queued", _stamp(run_at), len(added))

    def _log_queued(self, mail: outbox.QueuedMail) -> None:
        to = ", ".join(mail.to) or "nobody"
        if mail.status == "failed":
            self.log.info("recorded outbox#%d %s as failed: %s", mail.id, mail.kind, mail.error)
        else:
            self.log.info("queued outbox#%d %s to %s: %s", mail.id, mail.kind, to, mail.subject)

    def _deliver(self, summary: PassSummary) -> None:
        smtp = self.settings.smtp
        if not smtp.configured:
            if not self._told_unconfigured:
                waiting = len(self._read(lambda s: outbox.due_mails(s, limit=1000)))
                if waiting:
                    self._told_unconfigured = True
                    self.log.warning("smtp: no server configured ([smtp] host or CRM_SMTP_HOST); "
                                     "%d mails wait in the outbox", waiting)
            return
        if self._paused_until is not None and clock.now() < self._paused_until:
            return
        self._paused_until = None
        mail = self._write(lambda s: outbox.claim_next(s, self.owner, self.lease))
        while mail is not None:
            mail = self._deliver_one(mail, summary)

    def _claim_next(self, session: Session) -> outbox.ClaimedMail | None:
        return None if self.stopping else outbox.claim_next(session, self.owner, self.lease)

    def _deliver_one(self, mail: outbox.ClaimedMail, summary: PassSummary) -> outbox.ClaimedMail | None:
        """Send one claimed mail, record what happened and claim the next (one transaction when
        it went out). None: nothing more to deliver now."""
        smtp = self.settings.smtp
        if not mail.to:
            self._record_unsent(mail, "no recipient", permanent=True, refused=None, summary=summary)
            return self._write(self._claim_next)
        message = build_message(
            sender=smtp.sender, to=mail.to, subject=mail.subject, body=mail.body,
            message_id=mail.message_id, date=mail.created_at, automatic=mail.kind != "mass",
        )
        result = self.sender.send(message, sender_address(smtp.sender), mail.to)
        if result.sent:
            if os.environ.get(TEST_HOOK_KILL_AFTER_250):
                os.kill(os.getpid(), signal.SIGKILL)

            def finish(session: Session):
                return outbox.mark_sent(session, mail, self.owner, result.refused), self._claim_next(session)

            marked, following = self._write(finish)
            if marked:
                summary.sent += 1
                refused = f" (refused: {', '.join(result.refused)})" if result.refused else ""
                self.log.info("sent outbox#%d %s to %s %s%s", mail.id, mail.kind, ", ".join(mail.to),
                              mail.message_id, refused)
            else:
                self.log.warning("sent outbox#%d, but its claim had passed to another daemon meanwhile",
                                 mail.id)
            return following
        if result.interrupted:
            self._write(lambda s: outbox.release(s, mail.id, self.owner))
            self.log.info("released outbox#%d unsent: stopping", mail.id)
            return None
        self._record_unsent(mail, result.error, permanent=result.status == "failed",
                            refused=result.refused, summary=summary, connection=result.connection_error)
        return None if result.connection_error else self._write(self._claim_next)

    def _record_unsent(self, mail, error, *, permanent, refused, summary, connection=False) -> None:
        disposition = self._write(
            lambda s: outbox.mark_unsent(s, mail, self.owner, error, permanent=permanent, refused=refused)
        )
        if disposition is None:
            self.log.warning("outbox#%d: its claim had passed to another daemon meanwhile", mail.id)
        elif disposition.status == "failed":
            summary.failed += 1
            self.log.info("failed outbox#%d %s to %s after %d attempt%s: %s", mail.id, mail.kind,
                          ", ".join(mail.to) or "nobody", disposition.attempts,
                          "" if disposition.attempts == 1 else "s", error)
        else:
            summary.retried += 1
            pause = ""
            if connection:
                self._paused_until = disposition.next_attempt_at
                pause = "; delivery paused until then"
            self.log.info("retry outbox#%d at %s (attempt %d of %d failed): %s%s", mail.id,
                          _stamp(disposition.next_attempt_at), disposition.attempts,
                          outbox.MAX_ATTEMPTS, error, pause)

    # -- running -------------------------------------------------------------------------------

    def _describe(self) -> str:
        smtp = self.settings.smtp
        where = f"{smtp.host}:{smtp.port}" if smtp.configured else "no smtp server"
        return (f"database {self.db.display_name}, {where}, follow-ups daily at "
                f"{self.settings.followup.run_time} {self.settings.followup.timezone}, as {self.owner}")

    def run_once(self) -> PassSummary:
        """One pass (cron, tests): queue, run follow-ups if due, deliver everything due, exit."""
        self._start_watchdog()
        try:
            summary = self.tick()
            self.log.info("pass done: %s", summary)
            return summary
        finally:
            self._finish()

    def run_forever(self) -> None:
        """Tick every TICK_SECONDS and at the daily follow-up moment, until SIGTERM/SIGINT."""
        import schedule

        self._start_watchdog()
        scheduler = self.scheduler = schedule.Scheduler()
        hour, minute = followups.run_time_of(self.settings)
        try:
            scheduler.every().day.at(f"{hour:02d}:{minute:02d}", self.settings.followup.timezone).do(self._safe_tick)
        except Exception as error:  # noqa: BLE001 - schedule/pytz raise several types for a bad zone
            from crm_tui.services.errors import ValidationError

            raise ValidationError("followup.timezone", f"{self.settings.followup.timezone!r}: {error}") from None
        scheduler.every(TICK_SECONDS).seconds.do(self._safe_tick)
        self.log.info("started: %s", self._describe())
        try:
            self._safe_tick()
            while not self.stopping:
                scheduler.run_pending()
                idle = scheduler.idle_seconds
                wait = TICK_SECONDS if idle is None else min(max(idle, 0.0), TICK_SECONDS)
                end = time.monotonic() + wait
                while not self.stopping and time.monotonic() < end:
                    time.sleep(min(POLL_SECONDS * 2, max(end - time.monotonic(), 0.0)))
        finally:
            self._finish()

    def _finish(self) -> None:
        self._finished = True
        self.sender.close()
        try:
            left = self._write(lambda s: outbox.release_all(s, self.owner))
            if left:
                self.log.info("released %d claimed mails unsent", left)
        except (DatabaseError, DBAPIError) as error:
            self.log.warning("could not release claimed mails (%s); their claims expire in %d s",
                             str(error).splitlines()[0], int(self.lease.total_seconds()))
        if self.stopping:
            self.log.info("stopped (%s)", self.stopping)

    # -- dry run -------------------------------------------------------------------------------

    def preview(self) -> list[PreviewItem]:
        """What a pass would send now, changing nothing: due outbox rows, then new mails."""

        def look(session: Session) -> list[PreviewItem]:
            now = clock.now()
            items = [
                PreviewItem("outbox", "send", row.kind, row.dedupe_key, row.to, row.subject,
                            outbox_id=row.id, attempts=row.attempts,
                            note="claim expired" if row.status == "sending" else "")
                for row in outbox.due_mails(session)
            ]
            due = reminders.due_reminders(session, now, limit=1_000_000)
            new = reminders.plan_reminder_mails(session, due, self.settings.general.timezone,
                                                command=self.command, now=now)
            new += followups.preview_followups(session, self.settings, command=self.command, now=now)
            known = outbox.queued_keys(session, (m.dedupe_key for m in new))
            for mail in new:
                if mail.dedupe_key in known:
                    continue
                items.append(PreviewItem(
                    mail.kind, "record-failed" if mail.status == "failed" else "send", mail.kind,
                    mail.dedupe_key, list(mail.to), " ".join(mail.subject.split()), note=mail.error,
                ))
            return items

        return self._read(look)


def _stamp(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(clock.zone("UTC")).strftime("%Y-%m-%d %H:%M:%SZ")


class ClockFormatter(logging.Formatter):
    """Log lines stamped with the program's clock (CRM_NOW freezes it too), in UTC."""

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
