"""Settings: defaults, the TOML file, CRM_<SECTION>_<KEY> overrides, and clear errors."""

from pathlib import Path

import pytest

from crm_tui.config import ConfigError, config_path, load_settings, system_timezone


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path):
    settings = load_settings(tmp_path / "missing.toml", environ={})
    assert settings.general.timezone == system_timezone()
    assert settings.general.lock_months == 6
    assert settings.general.auto_plan is True
    assert settings.followup.run_time == "07:00"
    assert "source" in settings.required.prospect
    assert settings.path is None


def test_file_then_environment(tmp_path):
    path = write(tmp_path, """
[general]
timezone = "Europe/Berlin"
lock_months = 3

[smtp]
host = "mail.example.test"
from = "crm@example.test"
password = "s3cret"

[required]
prospect = ["name", "city"]

[keymap]
"screen.board" = "f9"
""")
    settings = load_settings(path, environ={"CRM_SMTP_PORT": "2525", "CRM_GENERAL_AUTO_PLAN": "no"})
    assert settings.general.timezone == "Europe/Berlin"
    assert settings.general.lock_months == 3
    assert settings.general.auto_plan is False
    assert settings.smtp.host == "mail.example.test"
    assert settings.smtp.port == 2525
    assert settings.smtp.sender == "crm@example.test"
    assert settings.required.prospect == ("name", "city")
    assert settings.keymap == {"screen.board": "f9"}
    assert settings.path == path


def test_password_never_in_repr(tmp_path):
    settings = load_settings(write(tmp_path, '[smtp]\npassword = "s3cret"\n'), environ={})
    assert settings.smtp.password == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("[general]\nlock_months = 'many'\n", {}, "general.lock_months: expected a whole number"),
        ("[general]\ncolour = 'blue'\n", {}, "general.colour: unknown setting"),
        ("[nonsense]\nx = 1\n", {}, "nonsense: unknown section"),
        ("", {"CRM_GENERAL_AUTO_PLAN": "perhaps"}, "general.auto_plan: expected true or false"),
        ("[general\n", {}, "config.toml"),
        ("[general]\ntimezone = 'Mars/Olympus'\n", {}, "general.timezone: unknown time zone"),
        ("[followup]\nrun_time = '25:00'\n", {}, "followup.run_time: '25:00' is not a time"),
    ],
)
def test_errors_name_the_setting(tmp_path, text, environ, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_settings(write(tmp_path, text), environ=environ)


def test_config_path_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_CONFIG", str(tmp_path / "x.toml"))
    assert config_path() == tmp_path / "x.toml"
