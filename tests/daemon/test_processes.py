"""`crm remind` as real processes: two daemons over 1,000 reminders, `kill -9` between the server's
250 and the commit, SIGTERM/SIGINT, the dry run against the real pass, the log file."""

from __future__ import annotations

import json
import signal
import time as timing
from datetime import date, datetime, time

import pytest
from sqlalchemy import insert
from sqlmodel import select

from crm_tui.models import Activity, OutboxMail
from crm_tui.services.activities import compute_remind_at

TUESDAY = date(2026, 11, 24)
DUE_AT = "2026-11-24T08:31:00+00:00"


def rows(world) -> list[OutboxMail]:
    with world.db.read() as session:
        return list(session.exec(select(OutboxMail).order_by(OutboxMail.id)).all())


def many_reminders(world, count: int) -> None:
    """`count` activities of anna's whose reminders are due at 08:30 UTC (one insert)."""
    contact = world.contact()
    remind_at = compute_remind_at(TUESDAY, time(10, 0), 30, "Europe/Warsaw", 9)
    now = datetime(2026, 11, 20, tzinfo=remind_at.tzinfo)
    values = [
        {"type_id": world.types["call"], "contact_id": contact, "summary": f"Anruf {i}", "note": "",
         "due_date": TUESDAY, "due_time": time(10, 0), "assigned_user_id": world["anna"].id,
         "priority": 0, "place": "", "goal": "", "reminder_minutes": 30, "remind_at": remind_at,
         "status": "planned", "paused": False, "feedback": "", "created_by_id": world["tester"].id,
         "created_at": now, "updated_at": now}
        for i in range(count)
    ]
    with world.db.write() as session:
        session.execute(insert(Activity.__table__), values)


def wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll a condition another process brings about (not a wait for the clock)."""
    deadline = timing.monotonic() + timeout
    while not condition():
        if timing.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        timing.sleep(0.01)


def wait_for_line(process, needle: str) -> list[str]:
    lines = []
    for line in process.stderr:
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never logged: {''.join(lines)}")


@pytest.mark.slow
def test_two_daemons_over_1000_due_reminders_send_exactly_1000_mails(world, smtp, spawn_remind):
    many_reminders(world, 1000)
    daemons = [spawn_remind(world.db, "--once", now=DUE_AT) for _ in range(2)]
    outputs = [d.communicate(timeout=120) for d in daemons]
    assert [d.returncode for d in daemons] == [0, 0], outputs
    received = smtp.messages
    assert len(received) == 1000
    assert len({m.message_id for m in received}) == 1000
    stored = rows(world)
    assert len(stored) == 1000 and {r.status for r in stored} == {"sent"}
    assert {r.message_id for r in stored} == {m.message_id for m in received}
    sent_lines = [err.count(" sent outbox#") for _out, err in outputs]
    assert sum(sent_lines) == 1000, sent_lines
    assert all("Traceback" not in err for _out, err in outputs)


def test_kill_9_after_the_servers_250_resends_once_with_the_same_message_id(world, smtp, run_remind):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    killed = run_remind(world.db, "--once", now=DUE_AT, CRM_TEST_HOOK_KILL_AFTER_250="1")
    assert killed.code == -signal.SIGKILL
    assert len(smtp.messages) == 1
    (row,) = rows(world)
    assert row.status == "sending"  # the server has it; the commit never happened
    # (that nobody takes a claim before its lease runs out is tested in test_daemon.py)
    later = run_remind(world.db, "--once", now="2026-11-24T08:33:00+00:00")  # past the 64 s lease
    assert later.code == 0, later.err
    first, second = smtp.messages
    assert first.message_id == second.message_id == row.message_id
    (row,) = rows(world)
    assert (row.status, row.attempts) == ("sent", 1)


def test_an_idle_daemon_stops_at_once_on_sigterm(world, smtp, spawn_remind):
    daemon = spawn_remind(world.db, now=DUE_AT)
    wait_for_line(daemon, "started: database")
    stopped_at = timing.monotonic()
    daemon.send_signal(signal.SIGTERM)
    _out, err = daemon.communicate(timeout=10)
    assert timing.monotonic() - stopped_at < 2.0
    assert daemon.returncode == 0
    assert "stopped (SIGTERM)" in err and "Traceback" not in err


def test_sigint_finishes_the_mail_in_hand(world, smtp, spawn_remind):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    smtp.mode = "slow"  # the server takes 0.6 s to say 250
    daemon = spawn_remind(world.db, now=DUE_AT, CRM_SMTP_TIMEOUT="5")
    wait_for(lambda: smtp.handler.data_calls == 1, what="the mail to reach the server")
    stopped_at = timing.monotonic()
    daemon.send_signal(signal.SIGINT)  # Ctrl-C
    _out, err = daemon.communicate(timeout=10)
    assert timing.monotonic() - stopped_at < 2.0
    assert daemon.returncode == 0, err
    (row,) = rows(world)
    assert row.status == "sent" and len(smtp.messages) == 1, err
    assert "sent outbox#1" in err and "stopped (SIGINT)" in err


def test_sigterm_with_a_server_that_never_answers_exits_within_2_s_leaving_nothing_sending(world, smtp, spawn_remind):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    world.activity(world.contact(name="Zweiter"), TUESDAY, time(10, 0))
    smtp.mode = "silent"
    daemon = spawn_remind(world.db, now=DUE_AT, CRM_SMTP_TIMEOUT="30")  # only the stop can end the wait
    wait_for(lambda: smtp.handler.data_calls == 1, what="the mail to reach the server")
    stopped_at = timing.monotonic()
    daemon.send_signal(signal.SIGTERM)
    _out, err = daemon.communicate(timeout=10)
    assert timing.monotonic() - stopped_at < 2.0
    assert daemon.returncode == 0, err
    assert [(r.status, r.attempts, r.lease_owner) for r in rows(world)] == [("pending", 0, "")] * 2
    assert "released outbox#1 unsent: stopping" in err and "Traceback" not in err


def test_the_dry_run_lists_the_set_the_next_pass_sends(world, smtp, run_remind, capsys, monkeypatch):
    from crm_tui.cli import main

    contact = world.contact()
    for hour in (9, 10, 11):
        world.activity(contact, TUESDAY, time(hour, 0))
    world.activity(contact, TUESDAY, time(12, 0))  # 10:30 UTC: not yet
    now = "2026-11-24T09:45:00+00:00"
    monkeypatch.setenv("CRM_NOW", now)
    for name, value in smtp.env().items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["--db", world.db.url, "remind", "--once", "--dry-run", "--json"]) == 0
    preview = json.loads(capsys.readouterr().out)
    keys = {item["dedupe_key"] for item in preview}
    assert len(keys) == 3 and {item["action"] for item in preview} == {"send"}
    assert main(["--db", world.db.url, "remind", "--dry-run"]) == 0
    assert "3 mails would be sent, 0 recorded as failed; nothing was changed" in capsys.readouterr().out
    assert rows(world) == [] and smtp.messages == []
    real = run_remind(world.db, "--once", now=now)
    assert real.code == 0, real.err
    assert {r.dedupe_key for r in rows(world) if r.status == "sent"} == keys
    assert len(smtp.messages) == 3


def test_the_log_file_gets_one_line_per_action_and_no_traceback(world, smtp, run_remind, log_dir, unused_port):
    world.activity(world.contact(), TUESDAY, time(10, 0))
    log_file = log_dir / "remind.log"
    down = run_remind(world.db, "--once", "--log-file", str(log_file), now=DUE_AT, CRM_SMTP_PORT=str(unused_port))
    assert down.code == 0 and down.err == ""
    lines = log_file.read_text().splitlines()
    assert [line.split(" ", 2)[1] for line in lines] == ["queued", "follow-up", "retry", "pass"]
    assert all(line.startswith("2026-11-24T08:31:00Z ") for line in lines)
    assert "connection refused; delivery paused until then" in lines[2]
    assert "Traceback" not in log_file.read_text()


def test_print_systemd_unit(world, capsys):
    from crm_tui.cli import main

    assert main(["--db", world.db.url, "remind", "--print-systemd-unit"]) == 0
    unit = capsys.readouterr().out
    assert "[Service]" in unit and "KillSignal=SIGTERM" in unit and "Restart=on-failure" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith(f"--db {world.db.url} remind")
    assert main(["--db", "postgresql+psycopg://crm:geheim@db/crm", "remind", "--print-systemd-unit"]) == 0
    unit = capsys.readouterr().out
    assert "geheim" not in unit and "set CRM_DB in the EnvironmentFile" in unit
