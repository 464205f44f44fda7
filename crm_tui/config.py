"""Settings: a TOML file in the user config dir, every key overridable by `CRM_<SECTION>_<KEY>`.

The file is optional; defaults make a working single-user set-up. Secrets (the SMTP password)
live only here or in the environment, never in the database, and are never printed.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from crm_tui.paths import config_dir

ENV_CONFIG = "CRM_CONFIG"

SEED_001_PROSPECT_FIELDS = (
    "status", "source", "assigned_to", "name", "company", "city", "region", "country",
    "postal_code", "contacted_on", "description",
)


class ConfigError(ValueError):
    """The config file or an environment override is malformed."""


def system_timezone() -> str:
    """The machine's IANA zone name (TZ, /etc/timezone, /etc/localtime), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name and "/" in name or name == "UTC":
            try:
                from zoneinfo import ZoneInfo

                ZoneInfo(name)
                return name
            except (KeyError, ValueError, OSError):
                continue
    return "UTC"


@dataclass(frozen=True)
class GeneralSettings:
    timezone: str = field(default_factory=system_timezone)
    """IANA zone for "today" when a user has none of their own (default: the machine's)."""
    currency: str = "EUR"
    lock_months: int = 6
    """How long a new prospect stays locked to the rep who created it."""
    auto_plan: bool = True
    """Plan a call (phone) or an e-mail (address) when a contact is created."""
    default_due_hour: int = 9
    """Activities without a time are due at this hour of their day (reminders)."""
    theme: str = ""
    """A Textual theme (textual-dark, nord, gruvbox, ansi-dark for 16 colours, ...); "" = default."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = "crm@localhost"
    starttls: bool = False
    timeout: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class FollowupSettings:
    run_time: str = "07:00"
    """Daily follow-up run, HH:MM in `timezone`."""
    timezone: str = "UTC"


@dataclass(frozen=True)
class RequiredSettings:
    inbox: tuple[str, ...] = ("name",)
    prospect: tuple[str, ...] = SEED_001_PROSPECT_FIELDS
    customer: tuple[str, ...] = ("name",)
    archived: tuple[str, ...] = ("name",)
    closed: tuple[str, ...] = ("name",)

    def for_status(self, status: str) -> tuple[str, ...]:
        return getattr(self, status, ("name",))


@dataclass(frozen=True)
class Settings:
    general: GeneralSettings = GeneralSettings()
    smtp: SmtpSettings = SmtpSettings()
    followup: FollowupSettings = FollowupSettings()
    required: RequiredSettings = RequiredSettings()
    keymap: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    """The file these settings were read from, if it existed."""


_SECTIONS: dict[str, type] = {
    "general": GeneralSettings,
    "smtp": SmtpSettings,
    "followup": FollowupSettings,
    "required": RequiredSettings,
}
# The TOML key `from` is a Python keyword; it maps onto `sender`.
_ALIASES = {("smtp", "from"): "sender"}


def config_path() -> Path:
    """Where the config file is read from (CRM_CONFIG overrides the platform default)."""
    override = os.environ.get(ENV_CONFIG)
    if override:
        return Path(override).expanduser()
    return config_dir() / "config.toml"


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    where = f"{section}.{key}"
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}") from None
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(default, tuple):
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list):
            return tuple(str(part) for part in value)
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return value


def _apply(section_obj: Any, section: str, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(section_obj)}
    changes = {}
    for raw_key, value in values.items():
        key = _ALIASES.get((section, raw_key), raw_key)
        if key not in known:
            raise ConfigError(f"{section}.{raw_key}: unknown setting")
        changes[key] = _coerce(section, raw_key, value, getattr(section_obj, key))
    return replace(section_obj, **changes)


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the file (if any), then apply CRM_<SECTION>_<KEY> overrides."""
    env = os.environ if environ is None else environ
    path = path or config_path()
    data: dict[str, Any] = {}
    found = None
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        found = path
    sections = {name: cls() for name, cls in _SECTIONS.items()}
    for name, values in data.items():
        if name == "keymap":
            continue
        if name not in sections or not isinstance(values, dict):
            raise ConfigError(f"{name}: unknown section in {path}")
        sections[name] = _apply(sections[name], name, values)
    for name in sections:
        prefix = f"CRM_{name.upper()}_"
        overrides = {
            key[len(prefix):].lower(): value for key, value in env.items() if key.startswith(prefix)
        }
        if overrides:
            sections[name] = _apply(sections[name], name, overrides)
    _check_zone("general.timezone", sections["general"].timezone)
    _check_zone("followup.timezone", sections["followup"].timezone)
    run_time = sections["followup"].run_time
    hour, _, minute = run_time.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ConfigError(f"followup.run_time: {run_time!r} is not a time of day (HH:MM)")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(isinstance(v, str) for v in keymap.values()):
        raise ConfigError("keymap: expected `binding_id = \"keys\"` lines")
    return Settings(keymap=dict(keymap), path=found, **sections)


def _check_zone(where: str, name: str) -> None:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ConfigError(f"{where}: unknown time zone {name!r}") from None


_cached: Settings | None = None


def get_settings() -> Settings:
    """The settings of this process (read once)."""
    global _cached
    if _cached is None:
        _cached = load_settings()
    return _cached


def reset_settings() -> None:
    """Forget the cached settings (tests, and after the Settings screen saves)."""
    global _cached
    _cached = None
