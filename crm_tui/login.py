"""Who sits at the keyboard: --user, else CRM_USER, else the OS login. Standard library only."""

from __future__ import annotations

import getpass
import os

ENV_USER = "CRM_USER"


def os_login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "user"


def acting_login(explicit: str | None = None) -> str:
    return explicit or os.environ.get(ENV_USER) or os_login()
