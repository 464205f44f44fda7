"""`crm opps ...`: JSON shapes, filters, moves, won/lost/reopen, merge, and exit codes (0 done,
1 rejected with one line naming the field and nothing written, 2 wrong usage)."""

from __future__ import annotations

import sqlite3

import pytest

NOW = "2026-11-23T10:00:00+01:00"
ROW_KEYS = [
    "id", "title", "contact_id", "contact", "pipeline", "stage", "expected_revenue", "currency",
    "probability", "owner", "expected_close", "status", "lost_reason", "state", "rotting",
    "stage_entered_at", "next_activity_due",
]


def opportunity_rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM opportunities").fetchone()[0]


@pytest.fixture
def contact(crm, frozen_now):
    frozen_now(NOW)
    result = crm("contacts", "add", "--name", "Pan", "--first-name", "Peter", "--status", "customer",
                 "--no-auto-plan", "--json")
    assert result.code == 0, result.err
    return result.json["id"]


@pytest.fixture
def opp(crm, contact):
    result = crm("opps", "add", "--title", "Mietwohnung Olpe", "--contact", str(contact),
                 "--pipeline", "Immobilien", "--expected-revenue", "1.000,00", "--json")
    assert result.code == 0, result.err
    return result.json["id"]


def test_add_show_list_json_shapes(crm, contact, opp):
    shown = crm("opps", "show", str(opp), "--json")
    assert shown.code == 0
    detail = shown.json
    assert list(detail)[: len(ROW_KEYS)] == ROW_KEYS
    assert detail["expected_revenue"] == "1000.00"
    assert (detail["contact"], detail["contact_id"], detail["pipeline"], detail["stage"]) == (
        "Pan, Peter", contact, "Immobilien", "NEU")
    assert (detail["probability"], detail["owner"], detail["status"], detail["state"]) == (10, "tester", "open", "none")
    assert detail["stage_entered_at"] == "2026-11-23T09:00:00+00:00"
    assert detail["rotting"] is False and detail["lost_reason"] is None

    listed = crm("opps", "list", "--json")
    assert listed.code == 0
    [row] = listed.json
    assert list(row) == ROW_KEYS
    assert row["id"] == opp and row["currency"] == "EUR"

    text = crm("opps", "list")
    assert text.code == 0 and "Mietwohnung" in text.out and "1 of 1 opportunities" in text.out
    assert crm("opps", "show", str(opp)).out.count("Mietwohnung Olpe") == 1


def test_filters(crm, contact, opp):
    second = crm("opps", "add", "--title", "Angebot B2B", "--contact", str(contact), "--pipeline", "B2B Vertrieb",
                 "--stage", "Angebot", "--json").json["id"]
    assert crm("activities", "plan", "--opp", str(opp), "--type", "E-Mail", "--due", "yesterday").code == 0
    assert crm("activities", "plan", "--opp", str(opp), "--type", "E-Mail", "--due", "+5d").code == 0
    assert crm("activities", "plan", "--opp", str(second), "--type", "E-Mail", "--due", "today").code == 0

    def ids(*options):
        result = crm("opps", "list", "--json", *options)
        assert result.code == 0, result.err
        return [r["id"] for r in result.json]

    assert ids() == [opp, second]  # most urgent first
    assert ids("--state", "overdue") == [opp]
    assert ids("--state", "today") == [second]
    assert ids("--state", "planned") == [] and ids("--state", "none") == []
    assert ids("--pipeline", "immobilien") == [opp]
    assert ids("--pipeline", "B2B Vertrieb", "--stage", "Angebot") == [second]
    assert ids("--stage", "NEU") == [opp]
    assert ids("--owner", "tester") == [opp, second] and ids("--owner", "@me") == [opp, second]
    assert ids("--limit", "1") == [opp]
    assert ids("--status", "won") == []
    row = crm("opps", "list", "--json", "--state", "overdue").json[0]
    assert (row["state"], row["next_activity_due"]) == ("overdue", "2026-11-22")

    bad = crm("opps", "list", "--state", "red")
    assert bad.code == 1 and bad.err.startswith("crm: state:")
    assert crm("opps", "list", "--owner", "ghost").code == 1
    assert crm("opps", "list", "--pipeline", "Nope").err.startswith("crm: pipeline: no pipeline 'Nope'")
    assert crm("opps", "list", "--limit", "x").code == 2


def test_move_won_lost_reopen(crm, opp):
    moved = crm("opps", "move", str(opp), "--next", "--json")
    assert moved.code == 0
    assert (moved.json["stage"], moved.json["probability"]) == ("Besichtigungstermin", 40)
    assert crm("opps", "move", str(opp), "--prev", "--json").json["stage"] == "NEU"
    assert crm("opps", "move", str(opp), "--stage", "vertrag", "--json").json["probability"] == 80
    text = crm("opps", "move", str(opp), "--prev")
    assert text.code == 0 and text.out.strip() == f"opportunity {opp} is in Besichtigungstermin now (40%)"

    first = crm("opps", "move", str(opp), "--stage", "NEU")
    assert first.code == 0
    again = crm("opps", "move", str(opp), "--prev")
    assert again.code == 1 and again.err.strip() == f"crm: stage: opportunity {opp} is in the first stage already"

    lost = crm("opps", "lost", str(opp), "--reason", "Preis zu hoch", "--note", "zu teuer", "--json")
    assert lost.code == 0
    assert (lost.json["status"], lost.json["probability"], lost.json["lost_reason"]) == ("lost", 0, "Preis zu hoch")
    reopened = crm("opps", "reopen", str(opp), "--json")
    assert (reopened.json["status"], reopened.json["lost_reason"], reopened.json["probability"]) == ("open", None, 10)
    won = crm("opps", "won", str(opp), "--json")
    assert won.code == 0
    assert (won.json["status"], won.json["stage"], won.json["probability"]) == ("won", "Erfolgreich", 100)
    assert crm("opps", "won", str(opp)).code == 1
    refused = crm("opps", "move", str(opp), "--next")
    assert refused.code == 1 and "reopen" in refused.err


def test_lost_reason_is_required_and_checked(crm, db_path, opp):
    assert crm("opps", "lost", str(opp)).code == 2
    unknown = crm("opps", "lost", str(opp), "--reason", "Zu teuer")
    assert unknown.code == 1
    assert unknown.err.startswith("crm: reason: 'Zu teuer' is not a lost reason (choose one of:")
    assert crm("opps", "show", str(opp), "--json").json["status"] == "open"


def test_edit_and_history(crm, opp):
    edited = crm("opps", "edit", str(opp), "--expected-revenue", "2500.5", "--probability", "35",
                 "--expected-close", "2026-12-31", "--json")
    assert edited.code == 0, edited.err
    assert (edited.json["expected_revenue"], edited.json["probability"], edited.json["expected_close"]) == (
        "2500.50", 35, "2026-12-31")
    stale = crm("opps", "edit", str(opp), "--title", "x", "--if-version", "1")
    assert stale.code == 1 and "changed by someone else" in stale.err
    assert crm("opps", "edit", str(opp)).code == 2
    bad = crm("opps", "edit", str(opp), "--probability", "120")
    assert bad.code == 1 and bad.err.strip() == "crm: probability: must be at most 100"


def test_bad_input_exits_1_and_writes_nothing(crm, db_path, contact, opp):
    before = opportunity_rows(db_path)
    for options, field in (
        (["--title", "", "--contact", str(contact)], "title"),
        (["--title", "X"], "contact"),
        (["--title", "X", "--contact", "999"], "contact"),
        (["--title", "X", "--contact", str(contact), "--expected-revenue", "1,2345"], "expected_revenue"),
        (["--title", "X", "--contact", str(contact), "--stage", "Nope"], "stage"),
        (["--title", "X", "--contact", str(contact), "--owner", "ghost"], "owner"),
    ):
        result = crm("opps", "add", *options)
        assert result.code == 1, options
        assert result.err.startswith(f"crm: {field}:"), result.err
        assert len(result.err.strip().splitlines()) == 1
        assert "Traceback" not in result.err
    assert opportunity_rows(db_path) == before


def test_unknown_opportunity_and_usage_errors(crm, opp):
    missing = crm("opps", "show", "999")
    assert missing.code == 1 and "opportunity 999 does not exist" in missing.err
    assert crm("opps", "move", "999", "--next").code == 1
    assert crm("opps", "move", str(opp)).code == 2  # where to?
    assert crm("opps", "move", str(opp), "--next", "--prev").code == 2
    assert crm("opps", "show", "x").code == 2
    assert crm("opps", "frobnicate").code == 2
    assert crm("opps", "merge", str(opp)).code == 2


def test_merge(crm, db_path, contact, opp):
    other_contact = crm("contacts", "add", "--name", "Taylor", "--status", "customer", "--no-auto-plan",
                        "--json").json["id"]
    twin = crm("opps", "add", "--title", "Twin", "--contact", str(contact), "--json").json["id"]
    foreign = crm("opps", "add", "--title", "Foreign", "--contact", str(other_contact), "--json").json["id"]
    assert crm("activities", "plan", "--opp", str(twin), "--type", "E-Mail", "--due", "yesterday").code == 0

    same = crm("opps", "merge", str(opp), str(twin), "--json")
    assert same.code == 0, same.err
    assert same.json["merged_ids"] == [twin] and same.json["contacts_differ"] is False
    assert same.json["activities"] == 1
    assert "warning" not in same.err
    assert crm("opps", "show", str(opp), "--json").json["state"] == "overdue"

    differ = crm("opps", "merge", str(opp), str(foreign))
    assert differ.code == 0
    assert differ.err.strip() == "crm: warning: the merged opportunities belonged to different contacts"
    assert differ.out.startswith(f"merged {foreign} into opportunity {opp}")
    assert opportunity_rows(db_path) == 1
    assert crm("opps", "show", str(foreign)).code == 1

    itself = crm("opps", "merge", str(opp), str(opp))
    assert itself.code == 1 and itself.err.startswith("crm: other_ids:")


def test_a_rep_may_not_touch_someone_elses(crm, opp, monkeypatch):
    assert crm("users", "add", "--login", "anna", "--role", "rep").code == 0
    monkeypatch.setenv("CRM_USER", "anna")
    refused = crm("opps", "move", str(opp), "--next")
    assert refused.code == 1 and "owned by someone else" in refused.err
    assert crm("opps", "show", str(opp), "--json").code == 0
