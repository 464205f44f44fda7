"""The command palette's provider (ctrl+p): go to any screen, or run any action of this one.

Both lists are generated: the screens from the navigation sections, the actions from the
bindings active where the palette was opened, so a new binding shows up here by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider

from crm_tui.widgets.navbar import SECTIONS

Command = tuple[str, str, Callable[[], object]]


class CrmCommands(Provider):
    """Screens and the current screen's actions."""

    def _commands(self) -> Iterator[Command]:
        app = self.app
        show = getattr(app, "action_show", None)
        if show is not None:
            for mode, label, _binding_id in SECTIONS:
                yield f"Go to {label}", f"show the {label} screen", partial(show, mode)
        seen: set[str] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.system or binding.action.startswith("show("):
                continue
            if binding.action in ("command_palette", "app.command_palette"):
                continue
            name = binding.description
            if name in seen:
                continue
            seen.add(name)
            where = "everywhere" if isinstance(active.node, App) else type(active.node).__name__
            key_text = app.get_key_display(binding.with_key(key))
            yield name, f"{key_text} · {where}", partial(app.run_action, binding.action, active.node)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
