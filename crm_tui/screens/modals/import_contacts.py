"""Import contacts from a CSV file in the app: the path, a dry run that reports, then the import.

Step one (enter or ctrl+r) reads and validates every row without writing (`import_contacts(...,
dry_run=True)`) and shows the counts, the mapped and ignored columns and each invalid row with its
line, field and reason. Step two (ctrl+s) imports the valid rows into the inbox in one
transaction, with a progress bar. Dismisses with the `ImportReport` (None when nothing was
imported).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, ProgressBar, Static

from crm_tui.screens.modals.dialog import Dialog
from crm_tui.widgets.format import number, plural

if TYPE_CHECKING:
    from crm_tui.services.importer import ImportReport
    from crm_tui.workspace import Workspace

PROBLEMS_SHOWN = 200


class ImportDialog(Dialog["ImportReport"]):
    """CSV file -> dry-run report -> import into the inbox."""

    BINDINGS = [
        Binding("ctrl+r", "check", "Check (dry run)", id="import.check"),
        Binding("ctrl+s", "save", "Import", id="import.save"),
    ]

    DEFAULT_CSS = """
    ImportDialog > #dialog {
        width: 78;
    }
    ImportDialog #import-report-box {
        height: auto;
        max-height: 12;
    }
    ImportDialog ProgressBar {
        display: none;
    }
    ImportDialog.-running ProgressBar {
        display: block;
    }
    """

    class Reported(Message):
        def __init__(self, path: Path, report: ImportReport) -> None:
            super().__init__()
            self.path = path
            self.report = report

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    def __init__(self, workspace: Workspace, path: str = "") -> None:
        super().__init__()
        self.workspace = workspace
        self.initial_path = path
        self.checked: tuple[Path, ImportReport] | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading("Import contacts from a CSV file")
            yield from self.field("path", "CSV file", self.input("path", self.initial_path,
                                                                 "~/contacts.csv"))
            yield ProgressBar(show_eta=False, id="import-progress")
            with VerticalScroll(id="import-report-box"):
                yield Static("Headers in English or German (Name, Firma, E-Mail, Telefon, Stadt, "
                             "…); the contacts go into the inbox until reviewed. Enter checks "
                             "the file first, without writing anything.", id="import-report",
                             markup=False)
            yield Static("enter/ctrl+r check · ctrl+s import · escape cancel", classes="hint")
            yield from self.buttons(("check", "Check", "default"), ("save", "Import", "primary"),
                                    ("cancel", "Cancel", "default"))

    def on_mount(self) -> None:
        field = self.query_one("#field-path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    def _path(self) -> Path | None:
        text = self.value_of("path")
        if not text:
            self.show_error("path", "give the CSV file's path")
            return None
        path = Path(text).expanduser()
        if not path.is_file():
            self.show_error("path", f"{path} is not a file" if path.exists() else f"{path} does not exist")
            return None
        return path

    @on(Input.Submitted, "#field-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_check()

    @on(Input.Changed, "#field-path")
    def _changed(self) -> None:
        self.checked = None

    def action_check(self) -> None:
        if self._busy:
            return
        self.clear_errors()
        path = self._path()
        if path is None:
            return
        self._start(f"checking {path.name}…")
        self.run_import(path, dry_run=True)

    def action_save(self) -> None:
        if self._busy:
            return
        self.clear_errors()
        path = self._path()
        if path is None:
            return
        if self.checked is None or self.checked[0] != path:
            self.notify("Checking the file first (nothing is written yet).")
            self.action_check()
            return
        report = self.checked[1]
        if report.valid == 0:
            self.show_error("path", "no valid row to import")
            return
        self._start(f"importing {plural(report.valid, 'contact')}…")
        self.run_import(path, dry_run=False)

    def _start(self, text: str) -> None:
        self._busy = True
        self.add_class("-running")
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#import-report", Static).update(text)

    def _progress(self, done: int, total: int) -> None:
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)

    @work(thread=True, exclusive=True, exit_on_error=False, name="import contacts")
    def run_import(self, path: Path, dry_run: bool) -> None:
        from crm_tui.services.errors import ValidationError
        from crm_tui.services.importer import import_contacts

        workspace = self.workspace

        def progress(done: int, total: int) -> None:
            try:
                self.app.call_from_thread(self._progress, done, total)
            except RuntimeError:  # the app is shutting down
                pass

        def work(session):
            return import_contacts(session, workspace.actor, path, dry_run=dry_run,
                                   settings=workspace.settings, progress=progress)

        try:
            report = workspace.read(work) if dry_run else workspace.write(work)
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        self.post_message(self.Reported(path, report))

    @on(Rejected)
    def _rejected(self, message: Rejected) -> None:
        self._stop()
        self.query_one("#import-report", Static).update("")
        self.show_error("path", f"{message.field}: {message.text}" if message.field != "file" else message.text)

    def _stop(self) -> None:
        self._busy = False
        self.remove_class("-running")

    @on(Reported)
    def _reported(self, message: Reported) -> None:
        self._stop()
        report = message.report
        if not report.dry_run:
            self.dismiss(report)
            return
        self.checked = (message.path, report)
        self.query_one("#import-report", Static).update(report_text(report))


def report_text(report: ImportReport) -> Group:
    head = Text()
    head.append(f"{plural(report.rows, 'row')} read · ", style="bold")
    head.append(f"{number(report.valid)} valid", style="bold green")
    head.append(" · ")
    head.append(f"{number(report.invalid)} invalid", style="bold red" if report.invalid else "bold")
    parts: list = [head]
    if report.valid:
        parts.append(Text(f"ctrl+s imports the {plural(report.valid, 'valid row')} into the inbox "
                          "(invalid rows are left out)."))
    mapped = ", ".join(f"{h} → {f}" for h, f in report.columns.items())
    parts.append(Text(f"columns: {mapped or 'none'}", style="dim"))
    if report.ignored_columns:
        parts.append(Text(f"ignored: {', '.join(report.ignored_columns)}", style="dim"))
    for problem in report.problems[:PROBLEMS_SHOWN]:
        line = Text()
        line.append(f"line {problem.line}", style="bold")
        line.append(f"  {problem.field}: ", style="red")
        line.append(problem.message)
        parts.append(line)
    if report.invalid > PROBLEMS_SHOWN:
        parts.append(Text(f"… and {number(report.invalid - PROBLEMS_SHOWN)} more invalid rows "
                          "(`crm import contacts FILE --dry-run` lists them all)", style="dim"))
    return Group(*parts)
