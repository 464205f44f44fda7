"""`crm pipelines list|add|edit`: nested JSON, the stage spec syntax, stage removal with
--move-to, admin only, and exit codes."""

from __future__ import annotations

import sqlite3

import pytest

PIPELINE_KEYS = ["id", "name", "position", "followup_enabled", "followup_interval", "followup_unit", "stages"]
STAGE_KEYS = ["id", "name", "position", "probability", "duration_days", "is_won", "is_lost", "opportunities"]


def stage_rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM stages").fetchone()[0]


def stages_of(config):
    return [(s["name"], s["probability"], s["duration_days"], s["is_won"], s["is_lost"]) for s in config["stages"]]


def test_list_json_nests_the_stages(crm):
    result = crm("pipelines", "list", "--json")
    assert result.code == 0
    immobilien, b2b = result.json
    assert list(immobilien) == PIPELINE_KEYS
    assert all(list(s) == STAGE_KEYS for s in immobilien["stages"])
    assert [s["name"] for s in immobilien["stages"]] == ["NEU", "Besichtigungstermin", "Vertrag", "Erfolgreich"]
    assert (b2b["name"], b2b["followup_enabled"], b2b["followup_unit"]) == ("B2B Vertrieb", True, "weeks")
    text = crm("pipelines", "list")
    assert "Immobilien" in text.out and "Besichtigungstermin" in text.out


def test_add_with_stages_or_repeated_stage(crm):
    added = crm("pipelines", "add", "--name", "Projekte", "--stages", "Neu:10:7, Angebot:50%:14d ,Gewonnen:100:0:won",
                "--json")
    assert added.code == 0, added.err
    assert stages_of(added.json) == [
        ("Neu", 10, 7, False, False), ("Angebot", 50, 14, False, False), ("Gewonnen", 100, 0, True, False),
    ]
    assert added.json["position"] == 2
    second = crm("pipelines", "add", "--name", "Miete", "--stage", "Anfrage:10:3", "--stage", "Vertrag::0:won",
                 "--stage", "Abgesagt:::lost", "--followup", "on", "--followup-interval", "2",
                 "--followup-unit", "days", "--json")
    assert second.code == 0, second.err
    assert stages_of(second.json) == [
        ("Anfrage", 10, 3, False, False), ("Vertrag", 100, 0, True, False), ("Abgesagt", 0, 0, False, True),
    ]
    assert (second.json["followup_enabled"], second.json["followup_interval"], second.json["followup_unit"]) == (
        True, 2, "days")
    assert crm("pipelines", "add", "--name", "Plain", "--stages", "A").code == 0
    assert [p["name"] for p in crm("pipelines", "list", "--json").json][-3:] == ["Projekte", "Miete", "Plain"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--name", "Immobilien", "--stages", "A"], "crm: name: there is already a pipeline 'Immobilien'"),
        (["--name", "X", "--stages", "A:x"], "crm: probability: 'x' is not a whole number"),
        (["--name", "X", "--stages", "A:101"], "crm: probability: must be at most 100"),
        (["--name", "X", "--stages", "A:10:-1"], "crm: duration_days: must be at least 0"),
        (["--name", "X", "--stages", "A:10:1:maybe"], "crm: stages: 'A:10:1:maybe': the last part is won or lost, not 'maybe'"),
        (["--name", "X", "--stages", "A:1:2:won:extra"], "crm: stages: 'A:1:2:won:extra': write NAME:PROBABILITY:DAYS:won|lost"),
        (["--name", "X", "--stages", "A::0:won,B::0:won"], "crm: is_won: pipeline 'X' may have one won stage, not A, B"),
        (["--name", "X", "--stages", "A,a"], "crm: name: pipeline 'X' already has a stage 'A'"),
        (["--name", "X", "--stages", ":10"], "crm: name: is required"),
        (["--name", "X", "--stages", "A", "--followup", "on"],
         "crm: followup_enabled: follow-up mails need a stage duration: give at least one stage a duration in days"),
        (["--name", "X", "--stages", "A", "--followup", "perhaps"], "crm: followup_enabled: 'perhaps' is not on/off (yes/no, true/false)"),
    ],
)
def test_add_rejects_bad_input_and_writes_nothing(crm, db_path, options, message):
    crm("pipelines", "list")
    before = stage_rows(db_path)
    result = crm("pipelines", "add", *options)
    assert result.code == 1
    assert result.err.strip() == message
    assert stage_rows(db_path) == before


def test_add_usage_errors(crm):
    assert crm("pipelines", "add", "--stages", "A").code == 2
    assert crm("pipelines", "add", "--name", "X").code == 2
    assert crm("pipelines", "edit", "Immobilien").code == 2
    assert crm("pipelines", "edit", "Immobilien", "--move-to", "NEU").code == 2


def test_edit_stages(crm):
    edited = crm("pipelines", "edit", "Immobilien", "--add-stage", "Finanzierung:60:14",
                 "--edit-stage", "NEU=Neu:15", "--edit-stage", "Vertrag=::30", "--json")
    assert edited.code == 0, edited.err
    assert stages_of(edited.json) == [
        ("Neu", 15, 7, False, False), ("Besichtigungstermin", 40, 14, False, False),
        ("Vertrag", 80, 30, False, False), ("Finanzierung", 60, 14, False, False),
        ("Erfolgreich", 100, 0, True, False),
    ]
    ordered = crm("pipelines", "edit", "immobilien", "--order",
                  "Neu,Besichtigungstermin,Finanzierung,Vertrag,Erfolgreich", "--name", "Wohnen", "--json")
    assert ordered.code == 0, ordered.err
    assert ordered.json["name"] == "Wohnen"
    assert [s["name"] for s in ordered.json["stages"]] == [
        "Neu", "Besichtigungstermin", "Finanzierung", "Vertrag", "Erfolgreich"]
    assert [s["position"] for s in ordered.json["stages"]] == [0, 1, 2, 3, 4]
    flag = crm("pipelines", "edit", "Wohnen", "--edit-stage", "Erfolgreich=:::none", "--add-stage", "Verloren:0:0:lost",
               "--json")
    assert flag.code == 0, flag.err
    assert [(s["name"], s["is_won"], s["is_lost"]) for s in flag.json["stages"]][-2:] == [
        ("Erfolgreich", False, False), ("Verloren", False, True)]
    bad = crm("pipelines", "edit", "Wohnen", "--order", "Neu,Vertrag")
    assert bad.code == 1 and bad.err.startswith("crm: order: must name every stage; missing:")


def test_followups_switch_with_durations_in_one_call(crm):
    assert crm("pipelines", "add", "--name", "F", "--stages", "A,B").code == 0
    on = crm("pipelines", "edit", "F", "--followup", "on", "--edit-stage", "A=::5", "--json")
    assert on.code == 0, on.err
    assert on.json["followup_enabled"] is True
    off = crm("pipelines", "edit", "F", "--followup", "off", "--edit-stage", "A=::0", "--json")
    assert off.code == 0, off.err
    assert off.json["followup_enabled"] is False


def test_remove_stage_moves_its_opportunities(crm, db_path, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    contact = crm("contacts", "add", "--name", "Pan", "--status", "customer", "--no-auto-plan", "--json").json["id"]
    opp = crm("opps", "add", "--title", "Loft", "--contact", str(contact), "--stage", "Besichtigungstermin",
              "--json").json["id"]
    refused = crm("pipelines", "edit", "Immobilien", "--remove-stage", "Besichtigungstermin")
    assert refused.code == 1
    assert refused.err.strip() == (
        "crm: move_to: stage 'Besichtigungstermin' holds 1 opportunities: say which stage they move to")
    assert len(crm("pipelines", "list", "--json").json[0]["stages"]) == 4

    frozen_now("2026-11-30T10:00:00+01:00")
    removed = crm("pipelines", "edit", "Immobilien", "--remove-stage", "Besichtigungstermin", "--move-to", "vertrag",
                  "--json")
    assert removed.code == 0, removed.err
    assert [(s["name"], s["opportunities"]) for s in removed.json["stages"]] == [
        ("NEU", 0), ("Vertrag", 1), ("Erfolgreich", 0)]
    moved = crm("opps", "show", str(opp), "--json").json
    assert (moved["stage"], moved["probability"], moved["stage_entered_at"]) == (
        "Vertrag", 80, "2026-11-30T09:00:00+00:00")
    with sqlite3.connect(db_path) as conn:
        trail = conn.execute(
            "SELECT action, old_value, new_value FROM history WHERE opportunity_id = ? ORDER BY id", (opp,)
        ).fetchall()
    assert trail[-1] == ("stage", "Besichtigungstermin", "Vertrag")


def test_only_an_admin_configures(crm, monkeypatch):
    assert crm("users", "add", "--login", "anna", "--role", "manager").code == 0
    monkeypatch.setenv("CRM_USER", "anna")
    result = crm("pipelines", "add", "--name", "Mine", "--stages", "A")
    assert result.code == 1
    assert result.err.strip() == "crm: pipelines: only an admin may change this"
    assert crm("pipelines", "list", "--json").code == 0
