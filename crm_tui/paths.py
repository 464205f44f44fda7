"""Where crm-tui keeps its files: platformdirs user data and config dirs, and shipped data."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

APP_NAME = "crm-tui"


def data_dir() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return Path(user_config_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    return data_dir() / "crm.sqlite3"


def demo_db_path() -> Path:
    return data_dir() / "demo.sqlite3"


def shipped_data_dir() -> Path:
    """The `data/` folder: beside the package in a checkout, inside it in a wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data", here.parent / "data"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("crm-tui's data folder is missing from this installation")
