"""`crm outbox list|show|retry` and `crm contacts mail`, in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import select

from crm_tui.cli import main
from crm_tui.models import OutboxMail
from crm_tui.services import outbox
from crm_tui.services.outbox import NewMail


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def crm(world, capsys):
    def run(*argv: str, user: str = "tester") -> Result:
        capsys.readouterr()
        try:
            code = main(["--db", world.db.url, "--user", user, *argv])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 2
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def three_mails(world, frozen_now):
    """One sent, one failed (550), one pending: anna's, ben's and mia's."""
    frozen_now("2026-11-24T08:00:00+00:00")
    with world.db.write() as session:
        outbox.enqueue(session, [
            NewMail("reminder:1:x:2", "reminder", ("anna@firma.test",), "Erinnerung 1", "Text 1\n",
                    user_id=world["anna"].id, activity_id=1),
            NewMail("reminder:2:x:3", "reminder", ("ben@firma.test",), "Erinnerung 2", "Text 2\n",
                    user_id=world["ben"].id),
            NewMail("followup:1:x:1", "followup", ("mia@firma.test",), "Follow-up 1", "Text 3\n",
                    user_id=world["mia"].id),
        ], "crm@firma.test")
    for outcome in ("sent", "failed"):
        with world.db.write() as session:
            held = outbox.claim_next(session, "d", timedelta(minutes=5))
            if outcome == "sent":
                outbox.mark_sent(session, held, "d", {"cc@firma.test": (550, "no such user")})
            else:
                outbox.mark_unsent(session, held, "d", "550 5.7.1 rejected", permanent=True)
    with world.db.read() as session:
        return [m.id for m in session.exec(select(OutboxMail).order_by(OutboxMail.id)).all()]


def test_outbox_list_json(crm, three_mails):
    result = crm("outbox", "list", "--json")
    assert result.code == 0, result.err
    listed = result.json
    assert [m["id"] for m in listed] == three_mails[::-1]
    sent = listed[-1]
    assert sent == {
        "id": three_mails[0], "kind": "reminder", "status": "sent", "to": ["anna@firma.test"],
        "subject": "Erinnerung 1", "attempts": 1, "next_attempt_at": None,
        "created_at": "2026-11-24T08:00:00+00:00", "sent_at": "2026-11-24T08:00:00+00:00",
        "last_error": "", "dedupe_key": "reminder:1:x:2",
    }
    failed = crm("outbox", "list", "--status", "failed", "--json").json
    assert [(m["id"], m["last_error"]) for m in failed] == [(three_mails[1], "550 5.7.1 rejected")]
    assert [m["kind"] for m in crm("outbox", "list", "--kind", "followup", "--json").json] == ["followup"]
    assert [m["id"] for m in crm("outbox", "list", "--json", user="anna").json] == [three_mails[0]]
    table = crm("outbox", "list")
    assert "followup" in table.out and "1 pending · 0 sending · 1 sent · 1 failed" in table.out


def test_outbox_show_json_and_text(crm, three_mails):
    detail = crm("outbox", "show", str(three_mails[0]), "--json").json
    assert detail["body"] == "Text 1\n" and detail["user"] == "anna" and detail["activity_id"] == 1
    assert detail["refused"] == {"cc@firma.test": [550, "no such user"]}
    assert detail["message_id"].startswith("<reminder.") and detail["lease_owner"] == "d"
    text = crm("outbox", "show", str(three_mails[0]))
    assert "Text 1" in text.out and "cc@firma.test: 550 no such user" in text.out
    missing = crm("outbox", "show", "999")
    assert missing.code == 1 and "outbox mail 999 does not exist" in missing.err
    hidden = crm("outbox", "show", str(three_mails[1]), user="anna")  # ben's mail
    assert hidden.code == 1


def test_outbox_retry(crm, three_mails, world):
    assert crm("outbox", "retry", str(three_mails[1]), "--json").json == {"retried": [three_mails[1]]}
    with world.db.read() as session:
        retried = session.get(OutboxMail, three_mails[1])
    assert (retried.status, retried.attempts) == ("pending", 0)
    refused = crm("outbox", "retry", str(three_mails[0]))
    assert refused.code == 1 and "is sent; only failed or pending mails are retried" in refused.err
    assert crm("outbox", "retry").code == 2
    assert crm("outbox", "retry", "--failed", "--json").json == {"retried": []}


TEMPLATE = """Subject: Neuigkeiten für {company}
Hallo {first_name} {name},

wir haben Neues für Sie.

Viele Grüße
{sender_name}
"""


def test_contacts_mail_previews_then_queues_once(crm, world, tmp_path, frozen_now):
    frozen_now("2026-11-24T08:00:00+00:00")
    template = tmp_path / "brief.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    world.contact(city="Olpe")
    world.contact(name="Schmidt", first_name="Eva", company="Schmidt KG", email="eva@schmidt.test", city="Olpe")
    world.contact(name="Ohne", email="", city="Olpe")
    world.contact(name="Anderswo", city="Siegen")

    preview = crm("contacts", "mail", "--where", "city:Olpe", "--template", str(template))
    assert preview.code == 0, preview.err
    assert preview.out.startswith("2 mails to queue (1 contacts without an e-mail address skipped)")
    assert "Subject: Neuigkeiten für Müller Bau GmbH" in preview.out and "Hallo Jürgen Müller," in preview.out
    assert "nothing queued: run again with --yes" in preview.err
    with world.db.read() as session:
        assert session.exec(select(OutboxMail)).all() == []

    queued = crm("contacts", "mail", "--where", "city:Olpe", "--template", str(template), "--yes", "--json")
    assert queued.json["queued"] == 2 and queued.json["count"] == 2
    assert queued.json["sample"]["subject"] == "Neuigkeiten für Müller Bau GmbH"
    with world.db.read() as session:
        mails = session.exec(select(OutboxMail).order_by(OutboxMail.id)).all()
    assert [(m.kind, m.to_addrs, m.user_id) for m in mails] == [
        ("mass", "jm@mueller-bau.test", world["tester"].id), ("mass", "eva@schmidt.test", world["tester"].id)]
    assert mails[1].subject == "Neuigkeiten für Schmidt KG" and "Viele Grüße\nTess Tester" in mails[1].body

    again = crm("contacts", "mail", "--where", "city:Olpe", "--template", str(template), "--yes")
    assert "0 mails to queue" in again.out and "(2 got this mail before, skipped)" in again.out


@pytest.mark.parametrize(
    ("text", "args", "field", "reason"),
    [
        ("Hallo {vorname}\n", ["--subject", "x"], "template", "unknown field {vorname}"),
        ("Hallo {name\n", ["--subject", "x"], "template", "literal braces"),
        ("Hallo {name!r}\n", ["--subject", "x"], "template", "not supported"),
        ("Hallo {name}\n", [], "subject", "a subject is required"),
        ("Subject: Hi {name.__class__}\nText\n", [], "subject", "unknown field"),
    ],
)
def test_contacts_mail_rejects_bad_templates(crm, tmp_path, text, args, field, reason):
    template = tmp_path / "t.txt"
    template.write_text(text, encoding="utf-8")
    result = crm("contacts", "mail", "--template", str(template), *args)
    assert result.code == 1
    assert result.err.startswith(f"crm: {field}: ") and reason in result.err


def test_contacts_mail_with_a_bad_query_or_file(crm, tmp_path):
    template = tmp_path / "t.txt"
    template.write_text("Subject: x\nHallo\n", encoding="utf-8")
    bad_query = crm("contacts", "mail", "--where", "colour:red", "--template", str(template))
    assert bad_query.code == 1 and "where: at position 1: unknown field 'colour'" in bad_query.err
    missing = crm("contacts", "mail", "--template", str(tmp_path / "none.txt"))
    assert missing.code == 1 and "template: cannot read" in missing.err
