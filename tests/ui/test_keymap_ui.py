"""Keys and looks from the config file: `[keymap]` remaps a binding by its id (F3 -> F9 here), an
unknown id and an unknown theme are reported, `[general] theme` is applied; every binding has an
id; the state marks differ in shape, not only in colour."""

from __future__ import annotations

import os

from crm_tui import config
from crm_tui.app import CrmApp
from crm_tui.screens.board import BoardScreen
from crm_tui.screens.contacts import ContactsScreen

SIZE = (80, 24)


def write_config(text: str) -> None:
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    config.reset_settings()


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_keymap_remaps_f3_and_reports_unknown_ids(demo_db, ui):
    write_config('[keymap]\n"app.board" = "f9"\n"app.bored" = "f8"\n')
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert "F9 Board" in ui.text(app)  # the navigation bar shows the remapped key
        await pilot.press("f3")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)  # F3 does nothing now
        await pilot.press("f9")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, BoardScreen)
        assert any("'app.bored' is not a binding id" in n for n in notes(app))
        assert not any("app.board'" in n for n in notes(app))


async def test_theme_from_the_config_file(demo_db, ui):
    write_config('[general]\ntheme = "nord"\n')
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert app.theme == "nord"
    write_config('[general]\ntheme = "neon"\n')
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        assert app.theme == "textual-dark"
        assert any("general.theme: 'neon' is not a theme" in n for n in notes(app))


def test_theme_setting_and_environment(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[general]\ntheme = "gruvbox"\n', encoding="utf-8")
    assert config.load_settings(path, environ={}).general.theme == "gruvbox"
    assert config.load_settings(path, environ={"CRM_GENERAL_THEME": "ansi-dark"}).general.theme == "ansi-dark"
    assert config.load_settings(tmp_path / "none.toml", environ={}).general.theme == ""


def test_every_binding_has_an_id():
    from crm_tui.keymap import all_bindings, bindings_without_id

    assert bindings_without_id() == []
    ids = {b.id for b in all_bindings()}
    assert {"app.board", "app.reports", "reports.period", "contacts.search"} <= ids


def test_config_check_command(capsys):
    from crm_tui.cli import main

    write_config('[general]\ntheme = "neon"\n[keymap]\n"app.board" = "f9"\n"nope.nothing" = "x"\n')
    assert main(["config", "check"]) == 1
    err = capsys.readouterr().err
    assert "'nope.nothing' is not a binding id" in err and "'neon' is not a theme" in err
    write_config('[keymap]\n"app.board" = "f9"\n')
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out.endswith("ok\n")
    write_config('[general]\nlock_months = "many"\n')
    assert main(["config", "check"]) == 1
    assert "general.lock_months" in capsys.readouterr().err
    assert main(["config", "keys", "--json"]) == 0
    assert any(row["id"] == "app.reports" and row["key"] == "f7" for row in
               __import__("json").loads(capsys.readouterr().out))


def test_state_marks_differ_without_colour():
    from rich.console import Console

    from crm_tui.widgets.state_marks import STATE_ORDER, legend, state_bar, state_mark

    glyphs = [state_mark(s).plain for s in STATE_ORDER]
    assert len(set(glyphs)) == 4 and state_mark("bogus").plain == state_mark("none").plain
    bar = state_bar({"overdue": 1, "today": 2, "planned": 3, "none": 4}, 20)
    assert bar.plain == "██▓▓▓▓▒▒▒▒▒▒░░░░░░░░"
    console = Console(color_system=None, width=80, file=open(os.devnull, "w"))  # noqa: SIM115
    with console.capture() as capture:
        console.print(legend())
    assert capture.get() == "! overdue  * today  + planned  · none\n"
