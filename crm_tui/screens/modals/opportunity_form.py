"""The opportunity form (new and edit): title, contact picked by search, pipeline, stage,
expected revenue with currency, probability override, owner, expected close date, description.

It saves itself and dismisses with the opportunity's id (None when cancelled or unchanged). The
service validates: a `ValidationError(field, message)` shows next to its field and nothing is
written. An edit sends only the fields changed since the form loaded, with the version it
loaded; if somebody saved meanwhile, the `ConflictError` goes to the conflict dialog (when the
app has one) or to a message asking to reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.board import PipelineInfo
    from crm_tui.services.contacts import ContactRow
    from crm_tui.services.errors import ConflictError
    from crm_tui.services.opportunities import OpportunityDetail
    from crm_tui.workspace import Workspace

FIELDS = ("title", "contact", "pipeline", "stage", "expected_revenue", "currency", "probability",
          "owner", "expected_close", "description")
LABELS = {
    "title": "Title *", "contact": "Contact *", "pipeline": "Pipeline", "stage": "Stage",
    "expected_revenue": "Revenue", "currency": "Currency", "probability": "Probability",
    "owner": "Owner", "expected_close": "Close date", "description": "Description",
}
CONTACT_MATCHES = 6
CONTACT_SEARCH_DELAY = 0.2
"""Seconds of quiet typing before the contact search runs (tests set 0)."""
NOBODY = "-"


@dataclass(frozen=True)
class FormData:
    pipelines: list[PipelineInfo]
    owners: list[str]
    detail: OpportunityDetail | None
    contact_label: str


class OpportunityForm(ReportsWorkerErrors, ModalScreen[int | None]):
    """New or edit opportunity."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="opp_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="opp_form.save"),
        Binding("ctrl+o", "edit_description", "Description in $EDITOR", show=False, id="opp_form.editor"),
        Binding("down", "next_field", "Next field / matches", show=False,
                id="opp_form.down"),
        Binding("up", "previous_field", "Previous field", show=False, id="opp_form.up"),
    ]

    def action_edit_description(self) -> None:
        from crm_tui.widgets.editor import edit_field

        edit_field(self.app, self.query_one("#field-description"), ".txt")

    DEFAULT_CSS = """
    OpportunityForm {
        align: center middle;
    }
    OpportunityForm > Vertical {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    OpportunityForm #form-title {
        height: 1;
    }
    OpportunityForm VerticalScroll {
        height: auto;
        max-height: 1fr;
    }
    OpportunityForm .field-row {
        height: 1;
    }
    OpportunityForm .field-row Label {
        width: 13;
    }
    OpportunityForm .field-row Input, OpportunityForm .field-row Select {
        width: 1fr;
    }
    OpportunityForm .field-row #field-currency {
        width: 6;
    }
    OpportunityForm .field-row .inline-label {
        width: 10;
        padding-left: 1;
    }
    OpportunityForm #contact-chosen {
        padding-left: 13;
        height: 1;
        color: $text-muted;
    }
    OpportunityForm #contact-matches {
        margin-left: 13;
        height: auto;
        max-height: 6;
        display: none;
    }
    OpportunityForm #contact-matches.-shown {
        display: block;
    }
    OpportunityForm #field-description {
        height: 3;
        width: 1fr;
    }
    OpportunityForm #row-description {
        height: 3;
    }
    OpportunityForm .field-error {
        color: $error;
        padding-left: 13;
        height: auto;
        display: none;
    }
    OpportunityForm .field-error.-shown {
        display: block;
    }
    OpportunityForm #form-buttons {
        height: 1;
        align-horizontal: right;
    }
    OpportunityForm #form-buttons Button {
        margin-left: 2;
    }
    """

    class Loaded(Message):
        def __init__(self, data: FormData) -> None:
            super().__init__()
            self.data = data

    class Matches(Message):
        def __init__(self, text: str, rows: list[ContactRow], error: str = "") -> None:
            super().__init__()
            self.text = text
            self.rows = rows
            self.error = error

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    class Conflict(Message):
        def __init__(self, error: ConflictError) -> None:
            super().__init__()
            self.error = error

    class Saved(Message):
        def __init__(self, opportunity_id: int | None) -> None:
            super().__init__()
            self.opportunity_id = opportunity_id

    def __init__(self, workspace: Workspace, *, opportunity_id: int | None = None,
                 contact_id: int | None = None, pipeline_id: int | None = None,
                 stage_id: int | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.opportunity_id = opportunity_id
        self.contact_id = contact_id
        self.initial_pipeline = pipeline_id
        self.initial_stage = stage_id
        self.pipelines: list[PipelineInfo] = []
        self.detail: OpportunityDetail | None = None
        self.base: dict[str, str] = {}
        """The loaded values as text (an edit sends what differs from them)."""
        self.version: int | None = None
        self._matches: list[ContactRow] = []
        self._search_timer: Timer | None = None
        self._loaded = False

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical():
            what = f"Edit opportunity #{self.opportunity_id}" if self.opportunity_id else \
                "New opportunity"
            title = Text.assemble((what, "bold"), ("   ctrl+s save · escape cancel", "dim"))
            yield Static(title, id="form-title")
            with VerticalScroll():
                yield from self._input("title")
                with Horizontal(classes="field-row"):
                    yield Label(LABELS["contact"])
                    yield Input(id="field-contact", compact=True,
                                placeholder="type a name, company or city; ↓ picks")
                yield Static("", id="contact-chosen", markup=False)
                yield OptionList(id="contact-matches", compact=True)
                yield Static(id="error-contact", classes="field-error", markup=False)
                yield from self._select("pipeline")
                yield from self._select("stage")
                with Horizontal(classes="field-row"):
                    yield Label(LABELS["expected_revenue"])
                    yield Input(id="field-expected_revenue", compact=True,
                                placeholder="e.g. 12000 or 1.200,50")
                    yield Label(LABELS["currency"], classes="inline-label")
                    yield Input(self.workspace.settings.general.currency, id="field-currency",
                                compact=True, max_length=3)
                yield Static(id="error-expected_revenue", classes="field-error", markup=False)
                yield Static(id="error-currency", classes="field-error", markup=False)
                yield from self._input("probability", "the stage's")
                yield from self._select("owner")
                yield from self._input("expected_close", "e.g. 2026-12-31, +30d")
                with Horizontal(classes="field-row", id="row-description"):
                    yield Label(LABELS["description"])
                    yield TextArea(id="field-description", compact=True, show_line_numbers=False)
                yield Static(id="error-description", classes="field-error", markup=False)
                yield Static(id="error-form", classes="field-error", markup=False)
            with Horizontal(id="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _input(self, name: str, placeholder: str = "") -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(LABELS[name])
            yield Input(id=f"field-{name}", compact=True, placeholder=placeholder)
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def _select(self, name: str) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(LABELS[name])
            yield Select([], id=f"field-{name}", compact=True, allow_blank=True,
                         prompt="loading…")
        yield Static(id=f"error-{name}", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#field-title", Input).focus()
        self.load()

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="form-load",
          name="load opportunity form")
    def load(self) -> None:
        from crm_tui.services.board import list_pipelines
        from crm_tui.services.catalog import list_users
        from crm_tui.services.contacts import get_contact

        workspace = self.workspace
        actor = workspace.actor

        def read(session) -> FormData:
            from crm_tui.services.opportunities import get_opportunity

            pipelines = list_pipelines(session)
            owners = [u.login for u in list_users(session) if u.active]
            detail = None
            label = ""
            if self.opportunity_id is not None:
                detail = get_opportunity(session, actor, self.opportunity_id)
                contact = get_contact(session, actor, detail.contact_id)
                label = _contact_label(contact.display_name, contact.company, contact.city)
            elif self.contact_id is not None:
                contact = get_contact(session, actor, self.contact_id)
                label = _contact_label(contact.display_name, contact.company, contact.city)
            return FormData(pipelines, owners, detail, label)

        self.post_message(self.Loaded(workspace.read(read)))

    def on_opportunity_form_loaded(self, message: OpportunityForm.Loaded) -> None:
        data = message.data
        self.pipelines = data.pipelines
        self.detail = detail = data.detail
        pipeline_select = self.query_one("#field-pipeline", Select)
        with pipeline_select.prevent(Select.Changed):
            pipeline_select.set_options([(p.name, p.id) for p in data.pipelines])
        owners = [(login, login) for login in data.owners]
        owner_select = self.query_one("#field-owner", Select)
        owner_select.set_options([("(nobody)", NOBODY), *owners])
        if detail is not None:
            self.contact_id = detail.contact_id
            self.version = detail.version
            self.base = {name: _text(value) for name, value in detail.form_values().items()}
            self.query_one("#field-title", Input).value = detail.title
            pipeline_id, stage_id = detail.pipeline_id, detail.stage_id
            self.query_one("#field-expected_revenue", Input).value = self.base["expected_revenue"]
            self.query_one("#field-currency", Input).value = detail.currency
            self.query_one("#field-probability", Input).value = self.base["probability"]
            self.query_one("#field-expected_close", Input).value = self.base["expected_close"]
            self.query_one("#field-description", TextArea).text = detail.description
            owner = detail.owner or NOBODY
        else:
            pipeline_id, stage_id = self.initial_pipeline, self.initial_stage
            owner = self.workspace.actor.login
        if pipeline_id not in {p.id for p in data.pipelines} and data.pipelines:
            pipeline_id = data.pipelines[0].id
        with pipeline_select.prevent(Select.Changed):
            if pipeline_id is not None:
                pipeline_select.value = pipeline_id
        self._fill_stages(pipeline_id, stage_id)
        if owner == NOBODY or owner in data.owners:
            owner_select.value = owner
        elif detail is not None and detail.owner:  # a deactivated owner stays shown
            owner_select.set_options([("(nobody)", NOBODY), (detail.owner, detail.owner), *owners])
            owner_select.value = detail.owner
        self._show_contact(data.contact_label)
        self._loaded = True

    def _pipeline(self, pipeline_id: object) -> PipelineInfo | None:
        return next((p for p in self.pipelines if p.id == pipeline_id), None)

    def _fill_stages(self, pipeline_id: object, stage_id: object = None) -> None:
        pipeline = self._pipeline(pipeline_id)
        stages = [s for s in (pipeline.stages if pipeline else ()) if not s.is_lost]
        if self.detail is not None and self.detail.status == "lost" and pipeline is not None \
                and pipeline.id == self.detail.pipeline_id:
            stages = list(pipeline.stages)  # a lost one sits in the lost stage: show it
        select = self.query_one("#field-stage", Select)
        with select.prevent(Select.Changed):
            select.set_options([(f"{s.name} ({s.probability}%)", s.id) for s in stages])
            ids = [s.id for s in stages]
            if stage_id in ids:
                select.value = stage_id
            else:
                first = next((s.id for s in stages if not s.is_won), ids[0] if ids else None)
                if first is not None:
                    select.value = first
        self._show_stage_probability()

    def _show_stage_probability(self) -> None:
        stage = self._stage()
        field = self.query_one("#field-probability", Input)
        field.placeholder = f"the stage's: {stage.probability}%" if stage else "the stage's"

    def _stage(self):
        pipeline = self._pipeline(self.query_one("#field-pipeline", Select).value)
        stage_id = self.query_one("#field-stage", Select).value
        if pipeline is None:
            return None
        return next((s for s in pipeline.stages if s.id == stage_id), None)

    @on(Select.Changed, "#field-pipeline")
    def _pipeline_changed(self, event: Select.Changed) -> None:
        if self._loaded:
            self._fill_stages(event.value)

    @on(Select.Changed, "#field-stage")
    def _stage_changed(self, event: Select.Changed) -> None:
        self._show_stage_probability()

    # -- the contact picker ------------------------------------------------------------------

    def _show_contact(self, label: str) -> None:
        chosen = self.query_one("#contact-chosen", Static)
        if self.contact_id is not None and label:
            chosen.update(Text.assemble(("✔ ", "green"), label))
        else:
            chosen.update("no contact chosen yet")

    @on(Input.Changed)
    def _field_typed(self, event: Input.Changed) -> None:
        """A field's error goes away once the rep changes the field."""
        name = (event.input.id or "").removeprefix("field-")
        if name in FIELDS and name != "contact":
            self.query_one(f"#error-{name}", Static).remove_class("-shown")

    @on(Input.Changed, "#field-contact")
    def _contact_typed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        text = event.value.strip()
        if not text:
            self._set_matches([])
            return
        if CONTACT_SEARCH_DELAY > 0:
            self._search_timer = self.set_timer(CONTACT_SEARCH_DELAY,
                                                lambda: self.search_contacts(text))
        else:
            self.search_contacts(text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="contact-search",
          name="search contacts")
    def search_contacts(self, text: str) -> None:
        from crm_tui.services.contacts import list_contacts
        from crm_tui.services.errors import ValidationError
        from crm_tui.services.query import parse

        workspace = self.workspace
        actor = workspace.actor
        try:
            filt = parse(text, actor.today())
            rows = workspace.read(lambda s: list_contacts(s, actor, filt, limit=CONTACT_MATCHES))
        except ValidationError as error:
            self.post_message(self.Matches(text, [], error.message))
            return
        self.post_message(self.Matches(text, rows))

    def on_opportunity_form_matches(self, message: OpportunityForm.Matches) -> None:
        if message.text != self.query_one("#field-contact", Input).value.strip():
            return  # typed on since
        error = self.query_one("#error-contact", Static)
        if message.error:
            error.update(message.error)
            error.add_class("-shown")
        else:
            error.remove_class("-shown")
        self._set_matches(message.rows)
        if not message.rows and not message.error:
            error.update("no contact matches")
            error.add_class("-shown")

    def _set_matches(self, rows: list[ContactRow]) -> None:
        self._matches = rows
        matches = self.query_one("#contact-matches", OptionList)
        matches.clear_options()
        matches.add_options([Option(self._match_label(r), id=str(r.id)) for r in rows])
        matches.set_class(bool(rows), "-shown")
        if rows:
            matches.highlighted = 0

    @staticmethod
    def _match_label(row: ContactRow) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(row.display_name, style="bold")
        for part in (row.company, row.city):
            if part and part != row.name:
                text.append(f" · {part}", style="dim")
        text.append(f"  #{row.id}", style="dim")
        return text

    def _choose(self, index: int) -> None:
        row = self._matches[index]
        self.contact_id = row.id
        self._show_contact(_contact_label(row.display_name, row.company, row.city))
        field = self.query_one("#field-contact", Input)
        with field.prevent(Input.Changed):
            field.value = ""
        self._set_matches([])
        self.query_one("#error-contact", Static).remove_class("-shown")
        self.query_one("#field-pipeline", Select).focus()

    @on(OptionList.OptionSelected, "#contact-matches")
    def _match_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option_index)

    def action_next_field(self) -> None:
        focused = self.focused
        if focused is not None and focused.id == "field-contact" and self._matches:
            self.query_one("#contact-matches", OptionList).focus()
        else:
            self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()

    # -- saving ------------------------------------------------------------------------------

    def values(self) -> dict[str, object]:
        """Every field as the service takes it (names for pipeline and stage, as the base)."""
        pipeline = self._pipeline(self.query_one("#field-pipeline", Select).value)
        stage = self._stage()
        owner = self.query_one("#field-owner", Select).value
        return {
            "title": self.query_one("#field-title", Input).value,
            "contact": "" if self.contact_id is None else str(self.contact_id),
            "pipeline": pipeline.name if pipeline else "",
            "stage": stage.name if stage else "",
            "expected_revenue": self.query_one("#field-expected_revenue", Input).value,
            "currency": self.query_one("#field-currency", Input).value,
            "probability": self.query_one("#field-probability", Input).value,
            "owner": owner if isinstance(owner, str) and owner != NOBODY else "",
            "expected_close": self.query_one("#field-expected_close", Input).value,
            "description": self.query_one("#field-description", TextArea).text,
        }

    def changes(self) -> dict[str, object]:
        """What an edit sends: the fields that differ from what the form loaded."""
        values = self.values()
        out = {name: value for name, value in values.items()
               if _text(value).strip() != self.base.get(name, "").strip()}
        if "owner" in out and not out["owner"]:
            out["owner"] = "none"
        return out

    def _clear_errors(self) -> None:
        for error in self.query(".field-error"):
            error.remove_class("-shown")

    def show_error(self, field: str, text: str) -> None:
        self._clear_errors()
        target = field if field in FIELDS else "form"
        label = self.query_one(f"#error-{target}", Static)
        label.update(text if target != "form" else f"{LABELS.get(field, field)}: {text}"
                     if field != "form" else text)
        label.add_class("-shown")
        label.scroll_visible(animate=False)
        if self.query(f"#field-{field}"):
            self.query_one(f"#field-{field}").focus()

    def action_save(self) -> None:
        if not self._loaded:
            return
        self._clear_errors()
        if self.opportunity_id is None:
            values = self.values()
            if not values["owner"]:
                values["owner"] = "none"
            self.save(values, None)
            return
        values = self.changes()
        if not values:
            self.notify("Nothing changed.", timeout=2)
            self.dismiss(None)
            return
        self.save(values, self.version)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "field-contact":
            if self._matches:
                self._choose(self._matches_index())
            return
        self.action_save()

    def _matches_index(self) -> int:
        highlighted = self.query_one("#contact-matches", OptionList).highlighted
        return highlighted if highlighted is not None else 0

    @work(thread=True, exclusive=True, exit_on_error=False, group="form-save",
          name="save opportunity")
    def save(self, values: dict[str, object], version: int | None) -> None:
        from crm_tui.services.errors import ConflictError, ServiceError, ValidationError
        from crm_tui.services.opportunities import create_opportunity, update_opportunity

        workspace = self.workspace
        actor = workspace.actor

        def write(session) -> int:
            if self.opportunity_id is None:
                return create_opportunity(session, actor, values, settings=workspace.settings).id
            return update_opportunity(session, actor, self.opportunity_id, values,
                                      expected_version=version, base=self.base,
                                      settings=workspace.settings).id

        try:
            opportunity_id = workspace.write(write)
        except ConflictError as error:
            self.post_message(self.Conflict(error))
            return
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        except ServiceError as error:
            self.post_message(self.Rejected("form", str(error)))
            return
        self.post_message(self.Saved(opportunity_id))

    def on_opportunity_form_rejected(self, message: OpportunityForm.Rejected) -> None:
        self.show_error(message.field, message.text)

    def on_opportunity_form_saved(self, message: OpportunityForm.Saved) -> None:
        self.dismiss(message.opportunity_id)

    def on_opportunity_form_conflict(self, message: OpportunityForm.Conflict) -> None:
        error = message.error
        try:
            from crm_tui.screens.modals.save_with_conflicts import save_or_resolve
        except ImportError:
            self.show_error("form", f"{error}. Cancel and open it again to reload.")
            self.notify("Changed by someone else meanwhile: reload it.", severity="warning",
                        title="Not saved")
            return
        labels = {name: label.removesuffix(" *") for name, label in LABELS.items()}
        save_or_resolve(self, self._save_resolved, error, self._resolved, labels=labels,
                        on_failed=self._resolve_failed,
                        on_cancelled=lambda: self.show_error(
                            "form", "Not saved: it was changed by someone else meanwhile."))

    def _save_resolved(self, values: dict[str, object], expected_version: int,
                       base: dict[str, object]) -> int:
        """The save after the conflict dialog (runs in a worker thread)."""
        from crm_tui.services.opportunities import update_opportunity

        workspace = self.workspace
        return workspace.write(lambda s: update_opportunity(
            s, workspace.actor, self.opportunity_id, values, expected_version=expected_version,
            base=base, settings=workspace.settings).id)

    def _resolved(self, _result: object) -> None:
        self.dismiss(self.opportunity_id)

    def _resolve_failed(self, error: Exception) -> None:
        field = getattr(error, "field", "form")
        self.show_error(field, str(getattr(error, "message", None) or error))

def _text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _contact_label(name: str, company: str, city: str) -> str:
    parts = [name]
    if company and company != name:
        parts.append(company)
    if city:
        parts.append(city)
    return " · ".join(parts)
