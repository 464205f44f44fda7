"""The user's keymap and theme: `[keymap]` and `[general] theme` of the config file, checked and
applied to the app.

Every key of the app is a `Binding` with an id ("app.board", "contacts.search", ...); the
`[keymap]` section maps ids to keys (`"app.board" = "f9"`, several keys comma-separated), which
Textual's `App.set_keymap` applies. An id no binding has is almost always a typo: it is reported
by a warning notification when the app starts and by `crm config check` (docs/keymap.md lists
the ids). The theme is one of Textual's themes (`textual-dark`, `nord`, `gruvbox`, the 16-colour
`ansi-dark`/`ansi-light`, ...); an unknown one is reported the same way and the default kept.

Loading this module imports Textual (it walks the app's screens and widgets for their bindings),
so the command line imports it only in `crm config check`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from textual.binding import Binding

PACKAGES = ("crm_tui.screens", "crm_tui.widgets")
APP_MODULE = "crm_tui.app"


@dataclass(frozen=True)
class KeyBinding:
    id: str
    key: str
    description: str
    owner: str
    """The class that declares it ("CrmApp", "ContactsScreen", ...)."""


def _classes_with_bindings() -> Iterable[type]:
    from textual.dom import DOMNode

    importlib.import_module(APP_MODULE)
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)
    seen: set[type] = set()
    pending = [DOMNode]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                pending.append(sub)
                if sub.__module__.startswith("crm_tui") and "BINDINGS" in sub.__dict__:
                    yield sub


@lru_cache(maxsize=1)
def all_bindings() -> tuple[KeyBinding, ...]:
    """Every binding the app's classes declare, with its id (sorted by id)."""
    found: dict[str, KeyBinding] = {}
    for cls in _classes_with_bindings():
        for item in cls.__dict__["BINDINGS"]:
            if isinstance(item, Binding) and item.id:
                found.setdefault(item.id, KeyBinding(item.id, item.key, item.description or "",
                                                     cls.__name__))
    return tuple(sorted(found.values(), key=lambda b: b.id))


def bindings_without_id() -> list[str]:
    """"Class: key -> action" of every binding that cannot be remapped (no id)."""
    missing = []
    for cls in _classes_with_bindings():
        for item in cls.__dict__["BINDINGS"]:
            if isinstance(item, Binding) and not item.id:
                missing.append(f"{cls.__name__}: {item.key} -> {item.action}")
            elif isinstance(item, tuple):
                missing.append(f"{cls.__name__}: {item[0]} -> {item[1]}")
    return sorted(missing)


def known_ids() -> frozenset[str]:
    return frozenset(b.id for b in all_bindings())


def theme_names() -> frozenset[str]:
    from textual.theme import BUILTIN_THEMES

    return frozenset(BUILTIN_THEMES)


def keymap_problems(keymap: Mapping[str, str], known: Iterable[str] | None = None) -> list[str]:
    """One line per keymap entry that does nothing: an unknown id, or no key."""
    ids = frozenset(known) if known is not None else known_ids()
    problems = []
    for binding_id, keys in keymap.items():
        if binding_id not in ids:
            problems.append(f"keymap: {binding_id!r} is not a binding id (see docs/keymap.md)")
        elif not str(keys).strip():
            problems.append(f"keymap: {binding_id!r} has no key")
    return problems


def theme_problems(theme: str, available: Iterable[str] | None = None) -> list[str]:
    if not theme:
        return []
    names = frozenset(available) if available is not None else theme_names()
    if theme in names:
        return []
    return [f"general.theme: {theme!r} is not a theme (one of {', '.join(sorted(names))})"]


def apply_settings(app, settings=None) -> list[str]:
    """Set the app's theme and keymap from the settings (read now if not given) and warn about
    what could not be applied; returns the warnings. A config file with an error is left to the
    workspace, which reports it."""
    if settings is None:
        from crm_tui.config import ConfigError, get_settings

        try:
            settings = get_settings()
        except ConfigError:
            return []
    warnings = theme_problems(settings.general.theme, app.available_themes)
    if settings.general.theme and not warnings:
        app.theme = settings.general.theme
    if settings.keymap:
        warnings += keymap_problems(settings.keymap)
        app.set_keymap(settings.keymap)
    for warning in warnings:
        app.notify(warning, title="Config file", severity="warning", timeout=10)
    return warnings
