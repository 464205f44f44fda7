"""The pipelines part of Settings: every pipeline with its stages in one table, editable by an
admin (read-only, with a note, for everybody else).

Keys (when the table has the focus; Tab moves there): Enter or e edits the row's pipeline
(name, follow-up mails on/off, interval and unit) or stage (name, probability, duration, won/lost
flag); a adds a stage to the row's pipeline; N adds a pipeline; d removes a stage (asking where
its opportunities go when it holds any); K/J (or shift+up/down) move a stage up or down.

Every change goes through `services.pipelines` (which checks the admin role and writes history)
in a thread worker; the dialogs save themselves and show a refusal next to the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.pipelines import PipelineConfig, StageConfig
    from crm_tui.workspace import Workspace

NEW_PIPELINE_STAGES = "New:10:14, Offer:50:14, Won:100:0:won, Lost:0:0:lost"
FOLLOWUP_UNITS = ("days", "weeks", "months")


def period_text(count: int, unit: str) -> str:
    return f"{count} {unit.removesuffix('s') if count == 1 else unit}"


def _error_text(error: BaseException) -> str:
    return str(getattr(error, "message", None) or error)


# -- the table -------------------------------------------------------------------------------


class PipelineTable(DataTable):
    """Pipelines and their stages, one row each (bounded small: a DataTable is right here)."""

    HELP_SECTION = "Pipelines"


class PipelineSettings(ReportsWorkerErrors, Vertical):
    """Pipelines and stages: the table and the keys that change them."""

    HELP_SECTION = "Pipelines"

    BINDINGS = [
        Binding("e", "edit", "Edit pipeline/stage", id="pipelines.edit"),
        Binding("a", "add_stage", "Add stage", id="pipelines.add_stage"),
        Binding("N", "add_pipeline", "New pipeline", id="pipelines.add_pipeline"),
        Binding("d,delete", "remove_stage", "Remove stage", id="pipelines.remove_stage"),
        Binding("K,shift+up", "move_stage(-1)", "Stage up", id="pipelines.stage_up"),
        Binding("J,shift+down", "move_stage(1)", "Stage down", id="pipelines.stage_down"),
    ]

    DEFAULT_CSS = """
    PipelineSettings {
        height: auto;
        margin-bottom: 1;
    }
    PipelineSettings #pipelines-title {
        text-style: bold underline;
        height: 1;
    }
    PipelineSettings #pipelines-note {
        color: $text-muted;
        height: auto;
    }
    PipelineSettings PipelineTable {
        height: auto;
        max-height: 20;
        margin-top: 1;
    }
    """

    class Loaded(Message):
        def __init__(self, configs: list[PipelineConfig]) -> None:
            super().__init__()
            self.configs = configs

    def __init__(self, *, id: str | None = None,  # noqa: A002 - Textual's name
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.configs: list[PipelineConfig] = []
        self._cursor_key: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("Pipelines", id="pipelines-title")
        yield Static("loading…", id="pipelines-note", markup=False)
        table = PipelineTable(cursor_type="row", zebra_stripes=False)
        yield table

    def on_mount(self) -> None:
        table = self.query_one(PipelineTable)
        for label in ("Pipeline / stage", "Prob.", "Days", "Flag", "Opps", "Follow-up mails"):
            table.add_column(label, key=label)

    @property
    def workspace(self) -> Workspace | None:
        return getattr(self.app, "workspace", None)

    @property
    def is_admin(self) -> bool:
        workspace = self.workspace
        return workspace is not None and workspace.actor.is_admin

    # -- loading -----------------------------------------------------------------------------

    def reload(self) -> None:
        """Fetch the pipelines again (Settings calls this for each of its sections)."""
        self.load()

    def load(self, workspace: Workspace | None = None) -> None:
        workspace = workspace or self.workspace
        if workspace is not None:
            self._load(workspace)

    @work(thread=True, exclusive=True, exit_on_error=False, group="pipelines-load",
          name="load pipelines")
    def _load(self, workspace: Workspace) -> None:
        from crm_tui.services.pipelines import list_pipeline_configs

        self.post_message(self.Loaded(workspace.read(list_pipeline_configs)))

    def on_pipeline_settings_loaded(self, message: PipelineSettings.Loaded) -> None:
        self.configs = message.configs
        table = self.query_one(PipelineTable)
        wanted = self._cursor_key or self._current_key()
        table.clear()
        for pipeline in self.configs:
            followup = (f"every {period_text(pipeline.followup_interval, pipeline.followup_unit)}"
                        if pipeline.followup_enabled else "off")
            table.add_row(Text(pipeline.name, style="bold"), "", "", "", "",
                          Text(followup, style="" if pipeline.followup_enabled else "dim"),
                          key=f"p:{pipeline.id}")
            for stage in pipeline.stages:
                flag = "won" if stage.is_won else "lost" if stage.is_lost else ""
                table.add_row(Text("  " + stage.name), f"{stage.probability}%",
                              str(stage.duration_days) if stage.duration_days else "–", flag,
                              str(stage.opportunities), "", key=f"s:{stage.id}")
        if wanted is not None:
            try:
                table.move_cursor(row=table.get_row_index(wanted), animate=False)
            except Exception:  # the row is gone (removed stage): stay where we are
                pass
        self._cursor_key = None
        count = len(self.configs)
        self.query_one("#pipelines-title", Static).update(f"Pipelines ({count})")
        self.refresh_bindings()
        if self.is_admin:
            note = ("Tab to the table · e/Enter edit · a add stage · N new pipeline · "
                    "d remove stage · K/J move stage up/down")
        else:
            note = "Read-only: only an admin changes pipelines and stages."
        self.query_one("#pipelines-note", Static).update(note)

    # -- the row under the cursor ------------------------------------------------------------

    def _current_key(self) -> str | None:
        table = self.query_one(PipelineTable)
        if table.row_count == 0:
            return None
        try:
            key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        except Exception:
            return None
        return key.value

    def _current(self) -> tuple[PipelineConfig, StageConfig | None] | None:
        key = self._current_key()
        if key is None:
            return None
        kind, _, ident = key.partition(":")
        for pipeline in self.configs:
            if kind == "p" and pipeline.id == int(ident):
                return pipeline, None
            for stage in pipeline.stages:
                if kind == "s" and stage.id == int(ident):
                    return pipeline, stage
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The editing keys are an admin's (hidden from the footer for everybody else)."""
        if action in ("edit", "add_stage", "add_pipeline", "remove_stage", "move_stage"):
            return self.is_admin
        return True

    def _admin(self) -> bool:
        if not self.is_admin:
            self.notify("Only an admin changes pipelines and stages.", severity="warning")
            return False
        return True

    def _changed(self, result: object) -> None:
        if result:
            if isinstance(result, str):
                self._cursor_key = result
            self.load()

    # -- actions -----------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_edit(self) -> None:
        current = self._current()
        if current is None or not self._admin():
            return
        pipeline, stage = current
        if stage is None:
            self.app.push_screen(PipelineForm(self.workspace, pipeline), self._changed)
        else:
            self.app.push_screen(StageForm(self.workspace, pipeline, stage), self._changed)

    def action_add_stage(self) -> None:
        current = self._current()
        if current is None or not self._admin():
            return
        self.app.push_screen(StageForm(self.workspace, current[0], None), self._changed)

    def action_add_pipeline(self) -> None:
        if not self._admin():
            return
        self.app.push_screen(PipelineForm(self.workspace, None), self._changed)

    def action_remove_stage(self) -> None:
        current = self._current()
        if current is None or not self._admin():
            return
        pipeline, stage = current
        if stage is None:
            self.notify("Put the cursor on a stage to remove it.", severity="warning")
            return
        self.app.push_screen(RemoveStageDialog(self.workspace, pipeline, stage), self._changed)

    def action_move_stage(self, step: int) -> None:
        current = self._current()
        if current is None or not self._admin():
            return
        _pipeline, stage = current
        if stage is None:
            return
        self._move(self.workspace, stage.id, step)

    @work(thread=True, exclusive=True, exit_on_error=False, group="pipelines-write",
          name="move stage")
    def _move(self, workspace: Workspace, stage_id: int, step: int) -> None:
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.pipelines import move_stage

        try:
            workspace.write(lambda s: [x.id for x in move_stage(s, workspace.actor, stage_id, step)])
        except ServiceError as error:
            self.app.call_from_thread(self.notify, _error_text(error), severity="warning")
            return
        self.app.call_from_thread(self._changed, f"s:{stage_id}")


# -- dialogs ---------------------------------------------------------------------------------


class PipelineDialog(ReportsWorkerErrors, ModalScreen[object]):
    """A small form that saves itself: rows of label + field, an error line under each."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="pipelines_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="pipelines_form.save"),
    ]

    DEFAULT_CSS = """
    PipelineDialog {
        align: center middle;
    }
    PipelineDialog > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    PipelineDialog .dialog-title {
        height: auto;
        margin-bottom: 1;
    }
    PipelineDialog .field-row {
        height: 1;
    }
    PipelineDialog .field-row Label {
        width: 16;
    }
    PipelineDialog .field-row Input, PipelineDialog .field-row Select {
        width: 1fr;
    }
    PipelineDialog .field-error {
        color: $error;
        padding-left: 16;
        height: auto;
        display: none;
    }
    PipelineDialog .field-error.-shown {
        display: block;
    }
    PipelineDialog .dialog-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    PipelineDialog .dialog-buttons Button {
        margin-left: 2;
    }
    """

    FIELDS: tuple[str, ...] = ()

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    class Saved(Message):
        def __init__(self, result: object) -> None:
            super().__init__()
            self.result = result

    def __init__(self, workspace: Workspace | None) -> None:
        super().__init__()
        self.workspace = workspace

    def _title(self, text: str) -> Static:
        return Static(Text.assemble((text, "bold"), ("   ctrl+s save · escape cancel", "dim")),
                      classes="dialog-title")

    def _input(self, name: str, label: str, value: str = "", placeholder: str = "") -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(label)
            yield Input(value, id=f"field-{name}", compact=True, placeholder=placeholder)
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def _select(self, name: str, label: str, options: list[tuple[str, object]],
                value: object) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(label)
            yield Select(options, value=value, allow_blank=False, id=f"field-{name}",
                         compact=True)
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def _buttons(self, save: str = "Save") -> ComposeResult:
        yield Static(id="error-form", classes="field-error", markup=False)
        with Horizontal(classes="dialog-buttons"):
            yield Button(save, id="save", variant="primary", compact=True)
            yield Button("Cancel", id="cancel", compact=True)

    def value(self, name: str) -> object:
        widget = self.query_one(f"#field-{name}")
        return widget.value  # type: ignore[attr-defined]

    def show_error(self, field: str, text: str) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")
        target = field if field in self.FIELDS else "form"
        label = self.query_one(f"#error-{target}", Static)
        label.update(text if target != "form" or field == "form" else f"{field}: {text}")
        label.add_class("-shown")
        if self.query(f"#field-{field}"):
            self.query_one(f"#field-{field}").focus()

    def on_pipeline_dialog_rejected(self, message: PipelineDialog.Rejected) -> None:
        self.show_error(message.field, message.text)

    def on_pipeline_dialog_saved(self, message: PipelineDialog.Saved) -> None:
        self.dismiss(message.result)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")
        self.save(self.values())

    def values(self) -> dict[str, object]:
        """The fields, read on the event loop (override)."""
        return {}

    def save(self, values: dict[str, object]) -> None:
        """Start the writing worker (override)."""

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def _write(self, work, key_of) -> None:
        """Run `work(session, actor)` in a write transaction (in the calling worker thread);
        post Saved(key_of(result)) or the refusal."""
        from crm_tui.services.errors import ServiceError, ValidationError

        workspace = self.workspace
        if workspace is None:
            return
        try:
            result = workspace.write(lambda s: key_of(work(s, workspace.actor)))
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        except ServiceError as error:
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Saved(result))


class PipelineForm(PipelineDialog):
    """New pipeline (with its first stages) or an existing one's name and follow-up mails."""

    FIELDS = ("name", "followup_enabled", "followup_interval", "followup_unit", "stages")

    def __init__(self, workspace: Workspace | None, pipeline: PipelineConfig | None) -> None:
        super().__init__(workspace)
        self.pipeline = pipeline

    def compose(self) -> ComposeResult:
        p = self.pipeline
        with Vertical():
            yield self._title(f"Pipeline {p.name}" if p else "New pipeline")
            yield from self._input("name", "Name *", p.name if p else "")
            yield from self._select("followup_enabled", "Follow-up mails",
                                    [("off", "off"), ("on", "on")],
                                    "on" if p and p.followup_enabled else "off")
            yield from self._input("followup_interval", "Every",
                                   str(p.followup_interval if p else 1))
            yield from self._select("followup_unit", "Unit", [(u, u) for u in FOLLOWUP_UNITS],
                                    p.followup_unit if p else "weeks")
            if p is None:
                yield from self._input("stages", "Stages *", NEW_PIPELINE_STAGES,
                                       "NAME:PROBABILITY:DAYS:won|lost, …")
            yield from self._buttons()

    def on_mount(self) -> None:
        self.query_one("#field-name", Input).focus()

    def values(self) -> dict[str, object]:
        values = {name: self.value(name) for name in
                  ("name", "followup_enabled", "followup_interval", "followup_unit")}
        if self.pipeline is None:
            values["stages"] = self.value("stages")
        return values

    @work(thread=True, exclusive=True, exit_on_error=False, name="save pipeline")
    def save(self, values: dict[str, object]) -> None:
        from crm_tui.services import pipelines

        values = dict(values)
        stages = str(values.pop("stages", ""))
        if self.pipeline is None:
            from crm_tui.commands.pipelines import parse_stage_spec
            from crm_tui.services.errors import ValidationError

            try:
                specs = [parse_stage_spec(s) for s in stages.split(",") if s.strip()]
            except ValidationError as error:
                self.post_message(self.Rejected("stages", error.message))
                return
            self._write(lambda s, a: pipelines.create_pipeline(s, a, values, specs),
                        lambda p: f"p:{p.id}")
        else:
            pipeline_id = self.pipeline.id
            self._write(lambda s, a: pipelines.update_pipeline(s, a, pipeline_id, values),
                        lambda p: f"p:{p.id}")


class StageForm(PipelineDialog):
    """New stage, or an existing one's name, probability, duration and won/lost flag."""

    FIELDS = ("name", "probability", "duration_days", "flag", "is_won", "is_lost")

    def __init__(self, workspace: Workspace | None, pipeline: PipelineConfig,
                 stage: StageConfig | None) -> None:
        super().__init__(workspace)
        self.pipeline = pipeline
        self.stage = stage

    def compose(self) -> ComposeResult:
        s = self.stage
        flag = "won" if s and s.is_won else "lost" if s and s.is_lost else "ordinary"
        with Vertical():
            what = f"Stage {s.name}" if s else "New stage"
            yield self._title(f"{what} · pipeline {self.pipeline.name}")
            yield from self._input("name", "Name *", s.name if s else "")
            yield from self._input("probability", "Probability %", str(s.probability) if s else "")
            yield from self._input("duration_days", "Duration (days)",
                                   str(s.duration_days) if s else "0",
                                   "0 = never rotting")
            yield from self._select("flag", "Closes as",
                                    [("ordinary (open)", "ordinary"), ("won", "won"),
                                     ("lost", "lost")], flag)
            if s is not None and s.opportunities:
                yield Static(Text(f"{s.opportunities} opportunities are in this stage; a new "
                                  "probability reaches the open ones that do not override it.",
                                  style="dim"))
            yield from self._buttons()

    def on_mount(self) -> None:
        self.query_one("#field-name", Input).focus()

    def values(self) -> dict[str, object]:
        flag = self.value("flag")
        values: dict[str, object] = {
            "name": self.value("name"),
            "duration_days": self.value("duration_days") or "0",
            "is_won": flag == "won",
            "is_lost": flag == "lost",
        }
        probability = str(self.value("probability")).strip().rstrip("%")
        if probability or self.stage is not None:
            values["probability"] = probability
        return values

    def show_error(self, field: str, text: str) -> None:
        super().show_error("flag" if field in ("is_won", "is_lost") else field, text)

    @work(thread=True, exclusive=True, exit_on_error=False, name="save stage")
    def save(self, values: dict[str, object]) -> None:
        from crm_tui.services import pipelines

        if self.stage is None:
            pipeline_id = self.pipeline.id
            self._write(lambda s, a: pipelines.add_stage(s, a, pipeline_id, values),
                        lambda stage: f"s:{stage.id}")
        else:
            stage_id = self.stage.id
            self._write(lambda s, a: pipelines.update_stage(s, a, stage_id, values),
                        lambda stage: f"s:{stage.id}")


class RemoveStageDialog(PipelineDialog):
    """Remove a stage; when it holds opportunities, choose the stage they move to."""

    FIELDS = ("move_to",)

    def __init__(self, workspace: Workspace | None, pipeline: PipelineConfig,
                 stage: StageConfig) -> None:
        super().__init__(workspace)
        self.pipeline = pipeline
        self.stage = stage

    def compose(self) -> ComposeResult:
        stage = self.stage
        with Vertical():
            yield Static(Text.assemble((f"Remove stage {stage.name}", "bold"),
                                       (f" from pipeline {self.pipeline.name}?", "")),
                         classes="dialog-title")
            if stage.opportunities:
                others = [s for s in self.pipeline.stages if s.id != stage.id]
                yield Static(f"It holds {stage.opportunities} opportunities. They move to the "
                             "stage chosen here (stage date reset, history written).",
                             markup=False)
                options = [(s.name, s.name) for s in others]
                default = next((s.name for s in others if not (s.is_won or s.is_lost)),
                               others[0].name if others else None)
                if options:
                    yield from self._select("move_to", "Move them to", options, default)
            else:
                yield Static("It holds no opportunities.", markup=False)
            yield from self._buttons("Remove")

    def on_mount(self) -> None:
        if self.query("#field-move_to"):
            self.query_one("#field-move_to").focus()
        else:
            self.query_one("#save", Button).focus()

    def values(self) -> dict[str, object]:
        return {"move_to": self.value("move_to") if self.query("#field-move_to") else None}

    @work(thread=True, exclusive=True, exit_on_error=False, name="remove stage")
    def save(self, values: dict[str, object]) -> None:
        from crm_tui.services import pipelines

        target = values["move_to"]
        stage_id = self.stage.id
        pipeline_key = f"p:{self.pipeline.id}"
        self._write(lambda s, a: pipelines.remove_stage(s, a, stage_id, target),
                    lambda _moved: pipeline_key)
