"""Ask for a file path (export to, import from, save an attachment as), and optionally a format.

Dismisses with a `PathChoice` (the path with `~` expanded, and the chosen format) or None. Checks
that can be made without the database happen here, next to the field: an input file must exist,
an output file's folder must exist, and overwriting an existing file needs a second ctrl+s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Select, Static

from crm_tui.screens.modals.dialog import Dialog


@dataclass(frozen=True)
class PathChoice:
    path: Path
    format: str | None = None


class PathPrompt(Dialog[PathChoice]):
    """A path field (and a format choice when `formats` are given)."""

    BINDINGS = [
        Binding("ctrl+s", "save", "OK", id="path.ok"),
    ]

    def __init__(
        self,
        title: str,
        *,
        default: str = "",
        formats: tuple[str, ...] = (),
        must_exist: bool = False,
        hint: str = "",
        ok: str = "OK",
    ) -> None:
        super().__init__()
        self.question = title
        self.default = default
        self.formats = formats
        self.must_exist = must_exist
        self.hint_text = hint
        self.ok_label = ok
        self._confirmed_overwrite: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(self.question)
            yield from self.field("path", "File", self.input("path", self.default))
            if self.formats:
                yield from self.field(
                    "format", "Format",
                    Select([(f, f) for f in self.formats], value=self._format_of(self.default),
                           allow_blank=False, id="field-format", compact=True),
                )
            yield Static(id="error-form", classes="field-error", markup=False)
            if self.hint_text:
                yield Static(self.hint_text, classes="hint", markup=False)
            yield from self.buttons(("save", self.ok_label, "primary"), ("cancel", "Cancel", "default"))

    def on_mount(self) -> None:
        field = self.query_one("#field-path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    def _format_of(self, path: str) -> str:
        suffix = Path(path).suffix.lower().lstrip(".")
        return suffix if suffix in self.formats else self.formats[0]

    @on(Input.Changed, "#field-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self._confirmed_overwrite = None
        if not self.formats:
            return
        suffix = Path(event.value).suffix.lower().lstrip(".")
        if suffix in self.formats:
            self.query_one("#field-format", Select).value = suffix

    @on(Input.Submitted, "#field-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        self.clear_errors()
        text = self.value_of("path")
        if not text:
            self.show_error("path", "give a file name")
            return
        path = Path(text).expanduser()
        if self.must_exist:
            if not path.exists():
                self.show_error("path", f"{path} does not exist")
                return
            if path.is_dir():
                self.show_error("path", f"{path} is a folder")
                return
        else:
            if path.is_dir():
                self.show_error("path", f"{path} is a folder: add a file name")
                return
            if not path.parent.is_dir():
                self.show_error("path", f"the folder {path.parent} does not exist")
                return
            if path.exists() and self._confirmed_overwrite != path:
                self._confirmed_overwrite = path
                self.show_error("path", "exists: ctrl+s again to overwrite it")
                return
        fmt = None
        if self.formats:
            value = self.query_one("#field-format", Select).value
            fmt = value if isinstance(value, str) else self.formats[0]
        self.dismiss(PathChoice(path, fmt))
