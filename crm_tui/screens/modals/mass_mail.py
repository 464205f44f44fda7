"""Mass e-mail to the marked contacts (issue 6, item 4): a subject and a text with `{name}`-style
fields, a preview with the count, then queued through the outbox for the daemon to send.

ctrl+r previews (how many get a mail, how many have no address or got this very mail before, the
first mail rendered); ctrl+s queues after asking "Queue N mails?", and only once the preview of
exactly this text has been seen. Dismisses with the number of mails queued (None on cancel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static, TextArea

from crm_tui.screens.modals.dialog import Dialog
from crm_tui.widgets.format import plural

if TYPE_CHECKING:
    from crm_tui.services.bulk import Selection
    from crm_tui.services.massmail import MassMailPreview
    from crm_tui.workspace import Workspace

DEFAULT_TEMPLATE = "Dear {full_name},\n\n\n\nKind regards\n{sender_name}\n"
FIELDS_HINT = "fields: {name} {first_name} {full_name} {company} {city} {customer_number} {sender_name}"


class MassMailDialog(Dialog[int]):
    """Write, preview and queue one templated mail per marked contact."""

    BINDINGS = [
        Binding("ctrl+r", "preview", "Preview", id="mail.preview"),
        Binding("ctrl+s", "queue", "Queue mails", id="mail.queue"),
        Binding("ctrl+o", "edit_template", "Template in $EDITOR", id="mail.editor"),
    ]

    def action_edit_template(self) -> None:
        from crm_tui.widgets.editor import edit_field

        edit_field(self.app, self.query_one("#field-template"), ".txt")

    DEFAULT_CSS = """
    MassMailDialog > #dialog {
        width: 78;
    }
    MassMailDialog #field-template {
        height: 7;
        margin-bottom: 0;
    }
    MassMailDialog #mail-preview-box {
        height: auto;
        max-height: 8;
        border-top: solid $primary-muted;
    }
    """

    class Previewed(Message):
        def __init__(self, key: tuple[str, str], preview: MassMailPreview) -> None:
            super().__init__()
            self.key = key
            self.preview = preview

    class Rejected(Message):
        def __init__(self, field: str, text: str) -> None:
            super().__init__()
            self.field = field
            self.text = text

    class Queued(Message):
        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    def __init__(self, workspace: Workspace, selection: Selection, count: int, description: str = "") -> None:
        super().__init__()
        self.workspace = workspace
        self.selection = selection
        self.count = count
        self.description = description or plural(count, "contact")
        self._previewed: tuple[tuple[str, str], MassMailPreview] | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(f"Mass e-mail to {self.description}")
            yield from self.field("subject", "Subject", self.input("subject", placeholder="Subject line"))
            yield TextArea(DEFAULT_TEMPLATE, id="field-template", compact=True, soft_wrap=True)
            yield Static(id="error-template", classes="field-error", markup=False)
            yield Static(FIELDS_HINT, classes="hint", markup=False)
            with VerticalScroll(id="mail-preview-box"):
                yield Static("ctrl+r shows the count and the first mail before anything is queued",
                             id="mail-preview", markup=False)
            yield Static(id="error-form", classes="field-error", markup=False)
            yield from self.buttons(("preview", "Preview", "default"), ("queue", "Queue", "primary"),
                                    ("cancel", "Cancel", "default"))

    def on_mount(self) -> None:
        self.query_one("#field-subject", Input).focus()

    def _key(self) -> tuple[str, str]:
        return self.value_of("subject"), self.query_one("#field-template", TextArea).text

    @on(Input.Submitted, "#field-subject")
    def _subject_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#field-template", TextArea).focus()

    def action_preview(self) -> None:
        if self._busy:
            return
        self.clear_errors()
        self.query_one("#mail-preview", Static).update("counting and rendering…")
        self._busy = True
        self.preview(self._key())

    def _targets(self, session):
        """What `services.massmail` takes: the filter itself, or the resolved ids."""
        from crm_tui.services.bulk import resolve

        selection = self.selection
        if selection.filter is not None and not selection.excluded:
            return selection.filter
        return resolve(session, self.workspace.actor, selection)

    @work(thread=True, exclusive=True, exit_on_error=False, name="preview mass mail")
    def preview(self, key: tuple[str, str]) -> None:
        from crm_tui.services.errors import ValidationError
        from crm_tui.services.massmail import render_preview

        workspace = self.workspace
        subject, template = key
        try:
            result = workspace.read(
                lambda s: render_preview(s, workspace.actor, self._targets(s), subject, template)
            )
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        self.post_message(self.Previewed(key, result))

    @on(Previewed)
    def _show_preview(self, message: Previewed) -> None:
        self._busy = False
        self._previewed = (message.key, message.preview)
        p = message.preview
        parts: list = []
        line = Text()
        line.append(f"{plural(p.count, 'mail')} to queue", style="bold")
        if p.without_email:
            line.append(f" · {plural(p.without_email, 'contact')} without an e-mail address")
        if p.already_queued:
            line.append(f" · {number_text(p.already_queued)} got this mail before (skipped)")
        parts.append(line)
        if p.sample is not None:
            parts.append(Text(f"To: {p.sample.to}", style="dim"))
            parts.append(Text(f"Subject: {p.sample.subject}", style="bold"))
            parts.append(Text(p.sample.body.rstrip()))
        if len(p.recipients) > 1:
            parts.append(Text("first recipients: " + ", ".join(p.recipients), style="dim"))
        self.query_one("#mail-preview", Static).update(Group(*parts))

    @on(Rejected)
    def _rejected(self, message: Rejected) -> None:
        self._busy = False
        self.query_one("#mail-preview", Static).update("")
        field = "template" if message.field in ("template", "contacts") else message.field
        self.show_error(field, message.text)

    def action_queue(self) -> None:
        from crm_tui.screens.modals.confirm import ConfirmDialog

        if self._busy:
            return
        key = self._key()
        if self._previewed is None or self._previewed[0] != key:
            self.notify("Preview first (ctrl+r): the count and the first mail.", severity="warning")
            self.action_preview()
            return
        preview = self._previewed[1]
        if preview.count == 0:
            self.show_error("form", "no mail to queue: nobody selected has an e-mail address "
                                    "that did not get this mail before")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._busy = True
                self.query_one("#mail-preview", Static).update(f"queuing {plural(preview.count, 'mail')}…")
                self.queue(key)

        self.app.push_screen(
            ConfirmDialog(f"Queue {plural(preview.count, 'mail')}?",
                          "The reminder daemon sends them; each one sent is written to the "
                          "contact's history.", confirm="Queue"),
            answered,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, name="queue mass mail")
    def queue(self, key: tuple[str, str]) -> None:
        from crm_tui.services.errors import ValidationError
        from crm_tui.services.massmail import queue_mass_mail

        workspace = self.workspace
        subject, template = key
        try:
            count = workspace.write(
                lambda s: queue_mass_mail(s, workspace.actor, self._targets(s), subject, template,
                                          settings=workspace.settings)
            )
        except ValidationError as error:
            self.post_message(self.Rejected(error.field, error.message))
            return
        self.post_message(self.Queued(count))

    @on(Queued)
    def _queued(self, message: Queued) -> None:
        self.dismiss(message.count)


def number_text(count: int) -> str:
    return plural(count, "contact")
