"""Settings (read-only for now): the config file and the effective settings, the users and
their roles, the pipelines with their stages, the activity types with their chaining.

The SMTP password is never shown, only whether one is set.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from crm_tui.screens.base import MainScreen
from crm_tui.screens.settings_pipelines import PipelineSettings
from crm_tui.screens.settings_types import ActivityTypesSettings
from crm_tui.screens.settings_users import UsersSection

if TYPE_CHECKING:
    from crm_tui.config import Settings
    from crm_tui.services.board import PipelineInfo
    from crm_tui.services.catalog import ActivityTypeInfo, UserInfo
    from crm_tui.workspace import Workspace

SECRET_FIELDS = {("smtp", "password")}


@dataclass(frozen=True)
class Catalog:
    users: list[UserInfo]
    pipelines: list[PipelineInfo]


def period_text(count: int, unit: str) -> str:
    """(1, "weeks") -> "1 week" (as `services.catalog.period_text`, without importing it)."""
    return f"{count} {unit.removesuffix('s') if count == 1 else unit}"


def _section_title(text: str) -> Text:
    return Text(text, style="bold underline")


def settings_table(settings: Settings, path_text: str, database: str) -> Group:
    """The effective settings as `section.key  value` lines; secrets as "set"/"not set"."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("config file", path_text)
    grid.add_row("database", database)
    for section in ("general", "smtp", "followup", "required"):
        values = getattr(settings, section)
        for item in fields(values):
            value = getattr(values, item.name)
            if (section, item.name) in SECRET_FIELDS:
                shown = "set (hidden)" if value else "not set"
            elif isinstance(value, tuple):
                shown = ", ".join(value) or "–"
            else:
                shown = str(value) if value != "" else "–"
            grid.add_row(f"{section}.{item.name}", Text(shown))
    for binding_id, keys in sorted(settings.keymap.items()):
        grid.add_row(f"keymap.{binding_id}", Text(keys))
    return Group(_section_title("Configuration"), grid)


def users_table(users: list[UserInfo]) -> Group:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for name in ("Login", "Name", "Role", "Teams", "Time zone"):
        table.add_column(name, no_wrap=name in ("Login", "Role"))
    for user in users:
        style = "" if user.active else "dim strike"
        table.add_row(user.login, user.name, user.role, ", ".join(user.teams),
                      user.timezone or "(default)", style=style)
    return Group(_section_title(f"Users ({len(users)})"), table)


def pipelines_table(pipelines: list[PipelineInfo]) -> Group:
    parts: list = [_section_title(f"Pipelines ({len(pipelines)})")]
    for pipeline in pipelines:
        followup = (
            f"follow-up mails every {period_text(pipeline.followup_interval, pipeline.followup_unit)}"
            if pipeline.followup_enabled else "no follow-up mails"
        )
        parts.append(Text.assemble((pipeline.name, "bold"), "  ", (followup, "dim")))
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
        table.add_column("Stage")
        table.add_column("Prob.", justify="right")
        table.add_column("Duration", justify="right")
        table.add_column("")
        for stage in pipeline.stages:
            flag = "won" if stage.is_won else "lost" if stage.is_lost else ""
            duration = f"{stage.duration_days} d" if stage.duration_days else "–"
            table.add_row(stage.name, f"{stage.probability}%", duration, flag)
        parts.append(table)
    return Group(*parts)


def types_table(types: list[ActivityTypeInfo]) -> Group:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("Type", no_wrap=True)
    table.add_column("Category", no_wrap=True)
    table.add_column("Chaining")
    for kind in types:
        table.add_row(kind.name, kind.category, kind.chaining_text,
                      style="" if kind.active else "dim")
    return Group(_section_title(f"Activity types ({len(types)})"), table)


class SettingsScreen(MainScreen):
    """A read-only overview of the configuration."""

    MODE = "settings"
    TITLE = "Settings"

    DEFAULT_CSS = """
    SettingsScreen #settings-body {
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    SettingsScreen #settings-body > Static {
        margin-bottom: 1;
    }
    """

    class Loaded(Message):
        def __init__(self, catalog: Catalog) -> None:
            super().__init__()
            self.catalog = catalog

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="settings-body"):
            yield Static("loading…", id="settings-config")
            yield UsersSection(id="settings-users", classes="settings-section")
            yield PipelineSettings(id="settings-pipelines", classes="settings-section")
            yield ActivityTypesSettings(id="settings-types", classes="settings-section")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#settings-body").focus()

    def workspace_ready(self, workspace: Workspace) -> None:
        self.reload()

    def reload(self) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        from crm_tui.config import config_path

        settings = workspace.settings
        path = settings.path or config_path()
        path_text = str(path) if settings.path else f"{path} (not present: defaults in use)"
        self.query_one("#settings-config", Static).update(
            settings_table(settings, path_text, workspace.db.display_name)
        )
        self.load(workspace)
        for section in self.query(".settings-section"):
            section.reload()  # sections (users, ...) load their own rows: `reload()` each

    @work(thread=True, exclusive=True, exit_on_error=False, name="load settings")
    def load(self, workspace: Workspace) -> None:
        from crm_tui.services.board import list_pipelines
        from crm_tui.services.catalog import list_users

        catalog = workspace.read(lambda s: Catalog(list_users(s), list_pipelines(s)))
        self.post_message(self.Loaded(catalog))

    def on_settings_screen_loaded(self, message: SettingsScreen.Loaded) -> None:
        catalog = message.catalog  # noqa: F841 - the sections load their own rows
