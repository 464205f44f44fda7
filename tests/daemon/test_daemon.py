"""The daemon's pass against a real SMTP server on loopback, with a frozen clock moved between passes:
reminders at the right minute, catch-up after downtime, 451/550/refusals/silence/absence, the dry
run, mass mail history."""

from __future__ import annotations

import json
import logging
import time as timing
import uuid
from dataclasses import replace
from datetime import date, time, timedelta

import pytest
from sqlmodel import select

from crm_tui.daemon import Daemon
from crm_tui.models import Activity, HistoryEntry, OutboxMail
from crm_tui.services import outbox
from crm_tui.services.massmail import queue_mass_mail
from crm_tui.services.outbox import NewMail

TUESDAY = date(2026, 11, 24)


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def make_daemon(world, settings, **kwargs) -> tuple[Daemon, list[str]]:
    logger = logging.getLogger(f"test.remind.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    lines = Lines()
    logger.addHandler(lines)
    return Daemon(world.db, settings, logger=logger, **kwargs), lines.lines


def rows(world) -> list[OutboxMail]:
    with world.db.read() as session:
        return list(session.exec(select(OutboxMail).order_by(OutboxMail.id)).all())


def test_a_reminder_goes_out_at_its_minute_with_its_message_id(any_world, smtp, settings, frozen_now):
    world = any_world  # SQLite and PostgreSQL
    contact = world.contact()
    activity = world.activity(contact, TUESDAY, time(10, 0), minutes=30)  # anna, Warsaw: 08:30 UTC
    daemon, log = make_daemon(world, settings)
    frozen_now("2026-11-24T08:29:59+00:00")
    assert daemon.run_once().queued == 0
    assert smtp.messages == []
    frozen_now("2026-11-24T08:30:00+00:00")
    summary = daemon.run_once()
    assert (summary.queued, summary.sent, summary.errors) == (1, 1, [])
    (received,) = smtp.messages
    (row,) = rows(world)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert received.message_id == row.message_id
    assert received.rcpt_tos == ["anna@firma.test"] and received.mail_from == "crm@firma.test"
    assert received.headers["From"] == "CRM <crm@firma.test>"
    assert received.headers["Auto-Submitted"] == "auto-generated"
    assert "Angebot besprechen" in received.subject
    assert f"crm activities done {activity}" in received.body
    assert any(line.startswith("queued outbox#1 reminder to anna@firma.test") for line in log)
    assert any(line.startswith(f"sent outbox#1 reminder to anna@firma.test {row.message_id}") for line in log)
    daemon.run_once()
    assert len(smtp.messages) == 1  # never twice


def test_after_two_hours_of_downtime_the_overdue_reminders_still_go_out(world, smtp, settings, frozen_now):
    contact = world.contact()
    for hour, minute in [(9, 30), (10, 0), (10, 30), (11, 0)]:  # Warsaw: 08:00 .. 09:30 UTC, minus 30
        world.activity(contact, TUESDAY, time(hour, minute))
    daemon, _log = make_daemon(world, settings)
    frozen_now("2026-11-24T07:59:00+00:00")
    assert daemon.run_once().sent == 0
    frozen_now("2026-11-24T10:00:00+00:00")  # the daemon was down from 07:59 to 10:00
    daemon, _log = make_daemon(world, settings)
    assert daemon.run_once().sent == 4
    assert len({m.message_id for m in smtp.messages}) == 4


def test_451_is_retried_later_and_then_sent(world, smtp, settings, frozen_now):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    smtp.mode = "451-once"
    daemon, log = make_daemon(world, settings)
    frozen_now("2026-11-24T08:30:00+00:00")
    summary = daemon.run_once()
    assert (summary.sent, summary.retried) == (0, 1)
    (row,) = rows(world)
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error.startswith("451 4.3.0")
    assert any(line.startswith("retry outbox#1 at 2026-11-24 08:3") and "451 4.3.0" in line for line in log)
    daemon.run_once()  # not due again yet
    assert smtp.handler.data_calls == 1
    frozen_now(row.next_attempt_at + timedelta(seconds=1))
    assert daemon.run_once().sent == 1
    (row,) = rows(world)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(smtp.messages) == 1


def test_550_fails_at_once_and_is_never_retried(world, smtp, settings, frozen_now):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    smtp.mode = "550"
    daemon, log = make_daemon(world, settings)
    frozen_now("2026-11-24T08:30:00+00:00")
    assert daemon.run_once().failed == 1
    (row,) = rows(world)
    assert (row.status, row.attempts) == ("failed", 1) and row.last_error.startswith("550 5.7.1")
    assert any(line.startswith("failed outbox#1 reminder to anna@firma.test after 1 attempt: 550") for line in log)
    frozen_now("2026-11-25T08:30:00+00:00")
    daemon.run_once()
    assert smtp.handler.data_calls == 1


def test_refused_recipients_are_recorded_one_by_one(world, smtp, settings, frozen_now):
    frozen_now("2026-11-24T08:30:00+00:00")
    smtp.refuse.add("gone@firma.test")
    with world.db.write() as session:
        outbox.enqueue(session, [
            NewMail("mass:x:1", "mass", ("ok@firma.test", "gone@firma.test"), "Hallo", "Text\n"),
            NewMail("mass:x:2", "mass", ("gone@firma.test",), "Hallo", "Text\n"),
        ], settings.smtp.sender)
    daemon, _log = make_daemon(world, settings)
    summary = daemon.run_once()
    assert (summary.sent, summary.failed) == (1, 1)
    partly, refused = rows(world)
    assert partly.status == "sent"
    assert json.loads(partly.refused) == {"gone@firma.test": [550, "5.1.1 <gone@firma.test>: no such user"]}
    assert refused.status == "failed" and "recipients refused: gone@firma.test: 550" in refused.last_error
    assert json.loads(refused.refused)["gone@firma.test"][0] == 550
    assert [m.rcpt_tos for m in smtp.messages] == [["ok@firma.test"]]


def test_a_silent_server_times_out_and_does_not_hang_the_daemon(world, smtp, settings, frozen_now):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    world.activity(world.contact(name="Zweiter"), TUESDAY, time(10, 0))
    smtp.mode = "silent"
    daemon, log = make_daemon(world, settings)  # timeout 0.5 s
    frozen_now("2026-11-24T08:30:00+00:00")
    started = timing.monotonic()
    summary = daemon.run_once()
    assert timing.monotonic() - started < 5
    assert (summary.sent, summary.retried) == (0, 1)
    first, second = rows(world)
    assert first.status == "pending" and "timed out" in first.last_error
    assert (second.status, second.attempts) == ("pending", 0)  # not tried while the server is stuck
    assert any("delivery paused until then" in line for line in log)
    assert not [r for r in rows(world) if r.status == "sending"]


def test_no_server_listening_is_one_line_and_a_retry(world, settings, unused_port, frozen_now):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    world.activity(world.contact(name="Zweiter"), TUESDAY, time(10, 0))
    daemon, log = make_daemon(world, replace(settings, smtp=replace(settings.smtp, port=unused_port)))
    frozen_now("2026-11-24T08:30:00+00:00")
    summary = daemon.run_once()
    assert (summary.sent, summary.retried, summary.errors) == (0, 1, [])
    failures = [line for line in log if line.startswith("retry")]
    assert len(failures) == 1 and "connection refused" in failures[0]
    assert {r.status for r in rows(world)} == {"pending"}


def test_connection_errors_fail_a_mail_after_the_last_attempt(world, settings, unused_port, frozen_now):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    daemon, log = make_daemon(world, replace(settings, smtp=replace(settings.smtp, port=unused_port)))
    moment = frozen_now("2026-11-24T08:30:00+00:00")
    for _ in range(outbox.MAX_ATTEMPTS):
        daemon.run_once()
        moment += timedelta(hours=2)
        frozen_now(moment)
    (row,) = rows(world)
    assert (row.status, row.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert log[-2].startswith(f"failed outbox#1 reminder to anna@firma.test after {outbox.MAX_ATTEMPTS} attempts")


def test_smtp_not_configured_leaves_mail_queued_with_one_warning(world, frozen_now):
    from crm_tui.config import Settings

    world.activity(world.contact(), TUESDAY, time(10, 0))
    daemon, log = make_daemon(world, Settings())
    frozen_now("2026-11-24T08:30:00+00:00")
    daemon.tick()
    daemon.tick()
    assert [r.status for r in rows(world)] == ["pending"]
    assert sum("no server configured" in line for line in log) == 1


def test_the_dry_run_previews_exactly_what_the_pass_sends_and_changes_nothing(world, smtp, settings, frozen_now):
    from crm_tui.services.opportunities import create_opportunity

    frozen_now("2026-11-09T10:00:00+00:00")
    customer = world.contact()
    with world.db.write() as session:  # overdue Monday 23 Nov: a follow-up on Tuesday 07:00
        create_opportunity(session, world["ben"], {"title": "Rahmenvertrag", "contact": customer,
                                                   "pipeline": "B2B Vertrieb", "stage": "Qualifizierung"})
    contact = world.contact(name="Nachname")
    world.activity(contact, TUESDAY, time(9, 0))
    world.activity(contact, TUESDAY, time(8, 0), assignee=None, team="Nord")  # UTC: 07:30
    world.activity(contact, TUESDAY, time(18, 0))  # not yet
    with world.db.write() as session:
        queue_mass_mail(session, world["mia"], [contact], "Neuigkeiten", "Hallo {first_name},\n")
    frozen_now("2026-11-24T07:45:00+00:00")

    def snapshot():
        with world.db.read() as session:
            return (
                [(r.id, r.status, r.attempts) for r in session.exec(select(OutboxMail)).all()],
                [(a.id, a.reminder_queued_for) for a in session.exec(select(Activity)).all()],
            )

    before = snapshot()
    daemon, _log = make_daemon(world, settings)
    preview = daemon.preview()
    assert snapshot() == before and smtp.messages == []
    assert sorted(i.kind for i in preview) == ["followup", "mass", "reminder", "reminder", "reminder"]
    assert {i.action for i in preview} == {"send"}
    daemon.run_once()
    with world.db.read() as session:
        sent = {m.dedupe_key for m in session.exec(select(OutboxMail).where(OutboxMail.status == "sent")).all()}
    assert {i.dedupe_key for i in preview} == sent
    assert len(smtp.messages) == 5
    assert daemon.preview() == []


def test_a_sent_mass_mail_is_written_to_the_contacts_history(world, smtp, settings, frozen_now):
    frozen_now("2026-11-24T08:30:00+00:00")
    contact = world.contact()
    with world.db.write() as session:
        assert queue_mass_mail(session, world["mia"], [contact], "Neuigkeiten für {company}",
                               "Hallo {first_name} {name},\n\nviele Grüße\n{sender_name}\n") == 1
    daemon, _log = make_daemon(world, settings)
    assert daemon.run_once().sent == 1
    (received,) = smtp.messages
    assert received.subject == "Neuigkeiten für Müller Bau GmbH"
    assert received.body.startswith("Hallo Jürgen Müller,") and "Mia Müller" in received.body
    assert "Auto-Submitted" not in received.headers
    with world.db.read() as session:
        (entry,) = session.exec(select(HistoryEntry).where(HistoryEntry.action == "mail")).all()
    assert (entry.contact_id, entry.user_login, entry.new_value) == (contact, "mia", "jm@mueller-bau.test")
    assert entry.subject == "E-mail: Neuigkeiten für Müller Bau GmbH"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_is_used_when_configured(world, smtp_factory, frozen_now):
    """AUTH against a server that checks the password (TLS not required on loopback)."""
    from aiosmtpd.smtp import AuthResult

    from crm_tui.config import Settings

    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"crm" and auth_data.password == b"geheim"
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    server = smtp_factory(authenticator=check, auth_required=True, auth_require_tls=False)
    world.activity(world.contact(), TUESDAY, time(10, 0))
    world.activity(world.contact(), TUESDAY, time(10, 0))
    frozen_now("2026-11-24T08:30:00+00:00")
    wrong = server.settings(user="crm", password="falsch")
    daemon, log = make_daemon(world, Settings(smtp=wrong))
    assert daemon.run_once().retried == 1
    assert any("login refused: 535" in line for line in log)
    daemon, log = make_daemon(world, Settings(smtp=replace(wrong, password="geheim")))
    frozen_now("2026-11-24T12:00:00+00:00")
    assert daemon.run_once().sent == 2
    assert len(server.messages) == 2
    assert not any("geheim" in line or "falsch" in line for line in log)


def test_message_ids_are_stable_across_a_resend(world, smtp, settings, frozen_now):
    """A mail whose claim ran out (its daemon died) goes out again with the very same Message-ID."""
    world.activity(world.contact(), TUESDAY, time(10, 0))
    frozen_now("2026-11-24T08:30:00+00:00")
    daemon, _log = make_daemon(world, settings)
    daemon._deliver = lambda summary: None  # queue only  # noqa: SLF001
    daemon.run_once()
    with world.db.write() as session:
        outbox.claim_next(session, "dead-daemon", timedelta(minutes=2))
    other, _log = make_daemon(world, settings)
    assert other.run_once().sent == 0  # the claim holds
    frozen_now("2026-11-24T08:32:01+00:00")
    assert other.run_once().sent == 1
    (row,) = rows(world)
    assert smtp.messages[0].message_id == row.message_id


def test_starttls_and_login_when_configured(world, smtp_factory, frozen_now, tmp_path, monkeypatch):
    """STARTTLS against a server with a certificate for 127.0.0.1 that the system trusts (via
    SSL_CERT_FILE), then AUTH; a server without STARTTLS is a connection-level error."""
    import shutil
    import ssl
    import subprocess

    from aiosmtpd.smtp import AuthResult

    from crm_tui.config import Settings

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    seen = []

    def check(server, session, envelope, mechanism, auth_data):
        seen.append(session.ssl is not None)
        return AuthResult(success=auth_data.password == b"geheim", handled=False)

    server = smtp_factory(tls_context=context, require_starttls=True, authenticator=check, auth_required=True)
    world.activity(world.contact(), TUESDAY, time(10, 0))
    frozen_now("2026-11-24T08:30:00+00:00")
    daemon, _log = make_daemon(world, Settings(smtp=server.settings(starttls=True, user="crm", password="geheim",
                                                                    timeout=5)))
    assert daemon.run_once().sent == 1
    assert seen == [True] and len(server.messages) == 1

    plain = smtp_factory()
    world.activity(world.contact(), TUESDAY, time(11, 0))
    frozen_now("2026-11-24T09:30:00+00:00")
    daemon, log = make_daemon(world, Settings(smtp=plain.settings(starttls=True)))
    assert daemon.run_once().retried == 1
    assert any("STARTTLS extension not supported by server" in line for line in log)


def test_run_forever_ticks_every_30_s_and_at_the_daily_run_time_until_stopped(world, smtp, frozen_now):
    import threading

    from crm_tui.config import FollowupSettings, Settings

    settings = Settings(smtp=smtp.settings(), followup=FollowupSettings(run_time="06:45", timezone="Europe/Berlin"))
    world.activity(world.contact(), TUESDAY, time(10, 0))
    frozen_now("2026-11-24T08:30:00+00:00")
    daemon, log = make_daemon(world, settings)
    runner = threading.Thread(target=daemon.run_forever)
    runner.start()
    deadline = timing.monotonic() + 30
    while not any(line.startswith("sent outbox#1") for line in log) and timing.monotonic() < deadline:
        timing.sleep(0.01)  # waiting for the first tick, which runs at start
    jobs = {(str(job.unit), job.interval, str(job.at_time), str(job.at_time_zone)) for job in daemon.scheduler.jobs}
    assert jobs == {("seconds", 30, "None", "None"), ("days", 1, "06:45:00", "Europe/Berlin")}
    stopped_at = timing.monotonic()
    daemon.request_stop("test")
    runner.join(5)
    assert not runner.is_alive() and timing.monotonic() - stopped_at < 2
    assert log[0].startswith("started: database") and log[-1] == "stopped (test)"
